"""Gemini Edge Proxy: a small, fast, stateless proxy for the Gemini API."""

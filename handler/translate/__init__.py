"""Pieces every client protocol shares when it translates to Gemini: JSON Schema, media, thinking, models, usage."""

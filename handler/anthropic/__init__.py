"""Anthropic Messages API (`/v1/messages`), so that Claude Code can use Gemini directly."""

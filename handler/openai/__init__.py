"""The OpenAI-compatible API: each module translates one OpenAI endpoint to Gemini."""

"""The OpenAI Responses API (`POST /v1/responses`) over Gemini generateContent."""

"""The OpenAI Responses API, governed like chat: parsing, ownership, restoration."""

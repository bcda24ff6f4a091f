"""Parse stage: raw LLM replies and packed cells into fields."""

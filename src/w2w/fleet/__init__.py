"""The identity LoRA fleet: batched per-identity adapters and their flat layout."""

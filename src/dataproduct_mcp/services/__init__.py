"""Use cases that compose persistence, validators, metadata and ORD (no transport code here)."""

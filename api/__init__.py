"""The HTTP API (thin: all logic lives in assistant/)."""

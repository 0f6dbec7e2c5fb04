"""Idempotency keys for POST requests: one run per key, its answer replayed to retries."""

"""Orders: what customers buy, and the summary.orders it feeds."""

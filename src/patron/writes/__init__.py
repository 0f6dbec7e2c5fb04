"""The one write path: every change to a customer goes through here, below the domains.

A change takes the customer's row lock, changes its fields or summaries, records the activity
in the same transaction (in the same statement where it can), and settles the segment moves it
causes; the outbox joins it later. Domains (customers, orders, events, consents, segments, bulk
work, and the incentives to come) add kinds of change here instead of reaching into each other:
`make lint` checks the layers with import-linter (pyproject.toml).

- `customers`: create or upsert, update, delete, erase, system metadata, order summaries, locks.
- `bulk`: many upserts by source_id in one transaction.
- `segments`: segment moves after a change, and what a customer list reads of a segment.
- `repository`: the SQL of all of it.
"""

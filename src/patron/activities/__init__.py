"""The customer activity timeline: recorded by every domain, listed per customer."""

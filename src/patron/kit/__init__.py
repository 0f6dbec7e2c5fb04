"""Mechanisms every domain shares: ids, time, JSON, query-string parsing."""

"""Customers: the people a shop promotes to, identified by Patron's id or the shop's source_id."""

"""Projects: the tenants, and the credentials that open their API."""

"""The database: connection pool, transactions, embedded PostgreSQL and migrations."""

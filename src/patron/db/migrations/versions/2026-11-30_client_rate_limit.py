"""The client-side rate limit's counters, shared by every server process on the database.

One row per client (its IP) and time bucket (the bucket's start, a multiple of a tenth of
PATRON_CLIENT_RATE_SECONDS): how many of its requests were let through in that bucket
(kit/ratelimit). The table is UNLOGGED: its writes skip the WAL, so counting a request costs no
WAL flush, and a crash empties it, which only forgets the last few seconds' counts. Rows are not
a project's: the limit applies before the client is authenticated. Rows older than the window
are deleted by the server processes as they go.

Revision ID: 0012_client_rate_limit
Revises: 0011_write_path
Create Date: 2026-11-30
"""

from alembic import op

revision = "0012_client_rate_limit"
down_revision = "0011_write_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE UNLOGGED TABLE client_rate_limits (
        client text NOT NULL,
        bucket timestamptz NOT NULL,
        hits integer NOT NULL,
        PRIMARY KEY (client, bucket)
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE client_rate_limits")

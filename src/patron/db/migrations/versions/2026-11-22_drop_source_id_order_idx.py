"""Drop customers_source_id_order_idx, which no query uses and every new customer paid for.

Its source_id order (NULLS LAST) matches neither order=source_id (NULLS FIRST) nor
order=-source_id (DESC NULLS LAST), so those listings sort either way (EXPLAIN at 1,000,000
customers); lookups by source_id use customers_source_id_key, which holds the same live rows.

Revision ID: 0008_drop_source_id_order_idx
Revises: 0007_segments
Create Date: 2026-11-22
"""

from alembic import op

revision = "0008_drop_source_id_order_idx"
down_revision = "0007_segments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS customers_source_id_order_idx")


def downgrade() -> None:
    op.execute("""
    CREATE INDEX IF NOT EXISTS customers_source_id_order_idx
        ON customers (project_id, source_id, id) WHERE deleted_at IS NULL
    """)

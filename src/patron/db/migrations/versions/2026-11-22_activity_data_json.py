"""Activity data and async-action input as `json`, not `jsonb`.

Both are written once, never queried inside, and only ever read back whole: `json` keeps the
text as written (PostgreSQL checks it is JSON) where `jsonb` parses it into its binary form on
the way in and prints it again on the way out. For a ~1 KB `customer.created` snapshot that
parse was half of what PostgreSQL spends storing the activity (35 → 19 µs per row, measured by
inserting 100,000 snapshots either way), and the largest single cost of a CSV import.

The change rewrites both tables.

Revision ID: 0009_activity_data_json
Revises: 0008_drop_source_id_order_idx
Create Date: 2026-11-22
"""

from alembic import op

revision = "0009_activity_data_json"
down_revision = "0008_drop_source_id_order_idx"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE customer_activities ALTER COLUMN data TYPE json USING data::json;
    ALTER TABLE async_action_rows ALTER COLUMN data TYPE json USING data::json;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE customer_activities ALTER COLUMN data TYPE jsonb USING data::jsonb;
    ALTER TABLE async_action_rows ALTER COLUMN data TYPE jsonb USING data::jsonb;
    """)

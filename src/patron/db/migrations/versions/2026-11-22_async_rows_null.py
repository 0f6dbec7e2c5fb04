"""An input row may be JSON null (a bulk array can hold one): it fails as a row, not as a 500.

Revision ID: 0006_async_rows_null
Revises: 0005_orders_total_numeric
Create Date: 2026-11-22
"""

from alembic import op

revision = "0006_async_rows_null"
down_revision = "0005_orders_total_numeric"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE async_action_rows ALTER COLUMN data DROP NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM async_action_rows WHERE data IS NULL")
    op.execute("ALTER TABLE async_action_rows ALTER COLUMN data SET NOT NULL")

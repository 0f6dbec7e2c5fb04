"""A customer's order total may pass 2^63 (many orders of up to 10^15 each): make it numeric.

Revision ID: 0005_orders_total_numeric
Revises: 0004_events_consents
Create Date: 2026-11-22
"""

from alembic import op

revision = "0005_orders_total_numeric"
down_revision = "0004_events_consents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE customers ALTER COLUMN orders_total_amount TYPE numeric(38, 0)")


def downgrade() -> None:
    op.execute("ALTER TABLE customers ALTER COLUMN orders_total_amount TYPE bigint")

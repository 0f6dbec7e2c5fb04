"""What each redemption took off its order, for the campaign summary: `discount_amount` (the
discount or gift credits applied, cents) and `order_amount` (the order's amount, cents, on the
stacked parent or a single redemption).

Revision ID: 0016_redemption_amounts
Revises: 0015_redemptions
Create Date: 2026-11-30
"""

from alembic import op

revision = "0016_redemption_amounts"
down_revision = "0015_redemptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE redemptions
        ADD COLUMN discount_amount bigint,
        ADD COLUMN order_amount bigint;
    CREATE INDEX redemptions_campaign_idx ON redemptions (project_id, campaign_id, created_at)
        WHERE campaign_id IS NOT NULL;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX redemptions_campaign_idx;
    ALTER TABLE redemptions DROP COLUMN discount_amount, DROP COLUMN order_amount;
    """)

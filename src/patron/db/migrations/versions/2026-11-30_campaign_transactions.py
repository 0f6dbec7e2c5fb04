"""Indexes for reading a campaign's transactions and publications (its transaction list and
its summary, `campaigns.transactions`) without scanning the project's.

Revision ID: 0014_campaign_transactions
Revises: 0013_campaigns_vouchers
Create Date: 2026-11-30
"""

from alembic import op

revision = "0014_campaign_transactions"
down_revision = "0013_campaigns_vouchers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE INDEX voucher_transactions_campaign_idx
        ON voucher_transactions (project_id, campaign_id, seq)
        WHERE campaign_id IS NOT NULL;
    CREATE INDEX publications_campaign_idx ON publications (project_id, campaign_id, created_at)
        WHERE campaign_id IS NOT NULL;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX publications_campaign_idx;
    DROP INDEX voucher_transactions_campaign_idx;
    """)

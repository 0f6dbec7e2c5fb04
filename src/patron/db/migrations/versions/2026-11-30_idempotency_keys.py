"""Stored responses for Idempotency-Key retries (reserved revision).

Revision ID: 0019_idempotency_keys
Revises: 0018_exports
Create Date: 2026-11-30
"""

from alembic import op

revision = "0019_idempotency_keys"
down_revision = "0018_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # reserved: filled in by the work that owns this revision


def downgrade() -> None:
    pass

"""Project names unique per installation (reserved revision).

Revision ID: 0017_project_names_unique
Revises: 0016_redemption_amounts
Create Date: 2026-11-30
"""

from alembic import op

revision = "0017_project_names_unique"
down_revision = "0016_redemption_amounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # reserved: filled in by the work that owns this revision


def downgrade() -> None:
    pass

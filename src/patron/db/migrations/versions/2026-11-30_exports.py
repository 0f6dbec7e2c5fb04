"""Exports of customers and orders (reserved revision).

Revision ID: 0018_exports
Revises: 0017_project_names_unique
Create Date: 2026-11-30
"""

from alembic import op

revision = "0018_exports"
down_revision = "0017_project_names_unique"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # reserved: filled in by the work that owns this revision


def downgrade() -> None:
    pass

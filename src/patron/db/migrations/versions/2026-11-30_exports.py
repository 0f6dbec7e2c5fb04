"""Exports of customers and orders: what to export, and the hash of its download token.

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
    op.execute("""
    CREATE TABLE exports (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        exported_object text NOT NULL CHECK (exported_object IN ('customer', 'order')),
        -- The request's parameters as given ({order, fields, filters}), checked when created.
        parameters jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('SCHEDULED', 'IN_PROGRESS', 'DONE', 'ERROR')),
        channel text NOT NULL,
        user_id text,
        -- SHA-256 of the download token (exports/service.py), compared in constant time.
        token_hash bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX exports_created_at_idx ON exports (project_id, created_at, id);
    -- The download finds an export by its id alone: its URL carries no project.
    CREATE UNIQUE INDEX exports_id_key ON exports (id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE exports")

"""Async actions: a durable queue of bulk work, with its input rows and a resumable cursor.

Revision ID: 0002_async_actions
Revises: 0001_customers_core
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002_async_actions"
down_revision = "0001_customers_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE async_actions (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        type text NOT NULL,
        status text NOT NULL DEFAULT 'ENQUEUED'
            CHECK (status IN ('ENQUEUED', 'IN_PROGRESS', 'DONE', 'FAILED')),
        operation_status text CHECK (operation_status IN ('SUCCESS', 'FAILED', 'UNKNOWN')),
        request_id text NOT NULL,
        -- What the work reads: the payload's shared part (e.g. the metadata to merge).
        params jsonb NOT NULL DEFAULT '{}'::jsonb,
        total_rows integer NOT NULL DEFAULT 0,
        -- Rows [0, cursor) are applied; the cursor moves in the same transaction as their effects.
        cursor integer NOT NULL DEFAULT 0,
        done_count integer NOT NULL DEFAULT 0,
        failed_count integer NOT NULL DEFAULT 0,
        errors jsonb NOT NULL DEFAULT '[]'::jsonb,
        failure text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX async_actions_listing_idx ON async_actions (project_id, created_at DESC, id);
    CREATE INDEX async_actions_queue_idx ON async_actions (created_at)
        WHERE status IN ('ENQUEUED', 'IN_PROGRESS');

    CREATE TABLE async_action_rows (
        project_id text NOT NULL,
        action_id text NOT NULL,
        row_number integer NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (project_id, action_id, row_number),
        FOREIGN KEY (project_id, action_id) REFERENCES async_actions (project_id, id)
            ON DELETE CASCADE
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE async_action_rows;
    DROP TABLE async_actions;
    """)

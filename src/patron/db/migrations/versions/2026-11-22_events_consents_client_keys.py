"""Custom event counts, consents, and client-side credentials.

Revision ID: 0004_events_consents
Revises: 0003_orders
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004_events_consents"
down_revision = "0003_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- How many times each customer sent each custom event: segments filter on it without
    -- scanning the timeline.
    CREATE TABLE customer_event_counts (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        customer_id text NOT NULL,
        event text NOT NULL,
        count bigint NOT NULL,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, customer_id, event)
    );
    CREATE INDEX customer_event_counts_event_idx
        ON customer_event_counts (project_id, event, count);

    CREATE TABLE client_keys (
        id text PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash bytea NOT NULL,
        -- Origins (host and port, lower case) whose pages may use this key.
        allowed_origins text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX client_keys_project_idx ON client_keys (project_id);

    CREATE TABLE consents (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        name text NOT NULL,
        description text,
        category text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz,
        PRIMARY KEY (project_id, id)
    );

    CREATE TABLE consent_groups (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        name text NOT NULL,
        description text,
        consents text[] NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE consent_groups;
    DROP TABLE consents;
    DROP TABLE client_keys;
    DROP TABLE customer_event_counts;
    """)

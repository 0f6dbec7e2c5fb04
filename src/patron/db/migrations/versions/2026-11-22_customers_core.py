"""Projects, customers and the customer activity timeline.

Revision ID: 0001_customers_core
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001_customers_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE projects (
        id text PRIMARY KEY,
        name text NOT NULL,
        app_id text NOT NULL UNIQUE,
        app_token_hash bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- The last created_at handed to a customer of this project: every customer gets a
        -- distinct millisecond, so that a created_at cursor sees each customer exactly once.
        customer_clock timestamptz NOT NULL DEFAULT '-infinity',
        -- Live customers, moved in the transaction that creates or deletes one.
        customers_count bigint NOT NULL DEFAULT 0 CHECK (customers_count >= 0)
    );

    CREATE TABLE customers (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        source_id text,
        name text,
        description text,
        email text,
        phone text,
        birthdate date,
        birthday date,
        address jsonb,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        system_metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL,
        updated_at timestamptz,
        deleted_at timestamptz,
        PRIMARY KEY (project_id, id)
    );

    -- One live customer per source_id; a deleted customer frees its source_id.
    CREATE UNIQUE INDEX customers_source_id_key
        ON customers (project_id, source_id)
        WHERE source_id IS NOT NULL AND deleted_at IS NULL;
    CREATE UNIQUE INDEX customers_created_at_key
        ON customers (project_id, created_at, id) WHERE deleted_at IS NULL;
    CREATE INDEX customers_updated_at_idx
        ON customers (project_id, updated_at, id) WHERE deleted_at IS NULL;
    CREATE INDEX customers_source_id_order_idx
        ON customers (project_id, source_id, id) WHERE deleted_at IS NULL;
    CREATE INDEX customers_email_idx
        ON customers (project_id, email, created_at) WHERE deleted_at IS NULL;
    CREATE INDEX customers_name_idx
        ON customers (project_id, name, created_at) WHERE deleted_at IS NULL;
    CREATE INDEX customers_city_idx
        ON customers (project_id, (address ->> 'city'), created_at) WHERE deleted_at IS NULL;
    CREATE INDEX customers_deleted_source_id_idx
        ON customers (project_id, source_id, deleted_at) WHERE deleted_at IS NOT NULL;

    CREATE TABLE customer_activities (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        -- Insertion order: activities of one transaction share created_at.
        seq bigint GENERATED ALWAYS AS IDENTITY,
        customer_id text NOT NULL,
        type text NOT NULL,
        category text NOT NULL,
        campaign_id text,
        campaign_type text,
        data jsonb NOT NULL,
        group_id text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX customer_activities_timeline_idx
        ON customer_activities (project_id, customer_id, seq);

    CREATE TABLE permanent_deletions (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        customer_id text NOT NULL,
        created_at timestamptz NOT NULL,
        data_json jsonb NOT NULL,
        PRIMARY KEY (project_id, id)
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE permanent_deletions;
    DROP TABLE customer_activities;
    DROP TABLE customers;
    DROP TABLE projects;
    """)

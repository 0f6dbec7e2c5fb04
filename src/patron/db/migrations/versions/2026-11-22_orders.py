"""Orders, and the order summary each customer carries.

Revision ID: 0003_orders
Revises: 0002_async_actions
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003_orders"
down_revision = "0002_async_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE orders (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        source_id text,
        status text NOT NULL CHECK (status IN ('CREATED', 'PAID', 'CANCELED', 'FULFILLED')),
        amount bigint,
        initial_amount bigint,
        discount_amount bigint,
        items jsonb NOT NULL DEFAULT '[]'::jsonb,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        customer_id text,
        referrer_id text,
        -- What this order adds to its customer's summary.orders: NULL unless PAID or FULFILLED.
        counted_amount bigint,
        created_at timestamptz NOT NULL,
        updated_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    CREATE UNIQUE INDEX orders_source_id_key ON orders (project_id, source_id)
        WHERE source_id IS NOT NULL;
    CREATE INDEX orders_created_at_idx ON orders (project_id, created_at, id);
    CREATE INDEX orders_updated_at_idx ON orders (project_id, updated_at, id);
    CREATE INDEX orders_customer_idx ON orders (project_id, customer_id);
    -- The customer's latest counted order, found without scanning the others.
    CREATE INDEX orders_counted_idx ON orders (project_id, customer_id, created_at DESC, id DESC)
        WHERE counted_amount IS NOT NULL;

    ALTER TABLE customers
        ADD COLUMN orders_total_amount bigint NOT NULL DEFAULT 0,
        ADD COLUMN orders_total_count integer NOT NULL DEFAULT 0,
        ADD COLUMN orders_last_amount bigint NOT NULL DEFAULT 0,
        ADD COLUMN orders_last_date timestamptz;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE customers
        DROP COLUMN orders_total_amount,
        DROP COLUMN orders_total_count,
        DROP COLUMN orders_last_amount,
        DROP COLUMN orders_last_date;
    DROP TABLE orders;
    """)

"""Segments, their stored members, and the ISO-date reading the filter language uses.

Revision ID: 0007_segments
Revises: 0006_async_rows_null
Create Date: 2026-11-22
"""

from alembic import op

revision = "0007_segments"
down_revision = "0006_async_rows_null"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE segments (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        name text NOT NULL,
        type text NOT NULL CHECK (type IN ('static', 'passive', 'auto-update')),
        filter jsonb,
        -- The filter reads the clock (relative dates): the periodic job re-evaluates it.
        time_dependent boolean NOT NULL DEFAULT false,
        -- When the periodic job last brought an auto-update segment's members up to date.
        reconciled_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz,
        PRIMARY KEY (project_id, id),
        CHECK ((type = 'static') = (filter IS NULL))
    );
    CREATE INDEX segments_created_at_idx ON segments (project_id, created_at, id);
    CREATE INDEX segments_auto_update_idx ON segments (project_id) WHERE type = 'auto-update';

    -- Members of static and auto-update segments; passive segments are computed when read.
    -- A customer's created_at never changes, so it is kept here to page a segment's members
    -- in the customers' default order without visiting every member. A deleted customer
    -- leaves every segment, so the rows of a segment count its members.
    CREATE TABLE segment_members (
        project_id text NOT NULL,
        segment_id text NOT NULL,
        customer_id text NOT NULL,
        customer_created_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, segment_id, customer_id),
        FOREIGN KEY (project_id, segment_id) REFERENCES segments (project_id, id)
            ON DELETE CASCADE
    );
    CREATE INDEX segment_members_customer_idx ON segment_members (project_id, customer_id);
    CREATE INDEX segment_members_order_idx
        ON segment_members (project_id, segment_id, customer_created_at, customer_id);

    -- A strict ISO 8601 date or date-time as a timestamp (UTC when no offset is given), or
    -- NULL for any other text: metadata values are compared as dates only when they are one.
    CREATE FUNCTION patron_iso_timestamp(value text) RETURNS timestamptz
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    BEGIN
        IF value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
            RETURN (value || 'T00:00:00+00:00')::timestamptz;
        END IF;
        IF value !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]'
                     '(:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?$') THEN
            RETURN NULL;
        END IF;
        IF value ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN
            RETURN value::timestamptz;
        END IF;
        RETURN (value || '+00:00')::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RETURN NULL;
    END
    $fn$;
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION patron_iso_timestamp(text);
    DROP TABLE segment_members;
    DROP TABLE segments;
    """)

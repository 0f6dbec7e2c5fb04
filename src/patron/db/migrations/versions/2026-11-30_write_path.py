"""The one write path: no per-project row that every creation holds until it commits.

Before, each creation and deletion of a customer updated `projects.customer_clock` and
`projects.customers_count`, which locked the project's row until commit: all creations in a
project ran one at a time. Now:

- `customer_counts` holds each project's live-customer count in slots; the count is their sum.
  `patron_count_customers` moves the first slot no other transaction holds (`SKIP LOCKED`), or
  else a random new one, so that a creation does not wait for another to commit; a project has
  about as many slots as it ever had creations in flight at once.
- `created_at` is kept distinct among a project's live customers wherever that costs little,
  which the JS SDK's `scroll()` relies on: `patron_customer_created_at` hands a creation the
  latest of the last 8 milliseconds that no committed customer of the project holds and no
  creation in flight has taken (a transaction-level advisory lock per millisecond, taken with a
  try: no one waits for it), and the moment itself when all 8 are taken (a project creating
  more than about 1,000 customers a second). Customers sharing a millisecond are paged
  together (`customers.service.list_customers`).
- `patron_hold_segments` takes the project's segments lock shared (as every customer write
  must: see segments/service.py) and says whether the project has auto-update segments, read
  after the lock is held. Being a VOLATILE PL/pgSQL function, its query takes a fresh snapshot
  even when called inside a larger statement.
- `patron_render_timestamp` renders a timestamp as `kit.time.render_datetime` does, for
  statements that fill a moment into JSON rendered beforehand.

Revision ID: 0011_write_path
Revises: 0010_customers_city_column
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011_write_path"
down_revision = "0010_customers_city_column"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE customer_counts (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        slot smallint NOT NULL,
        -- A slot may go below zero (a customer counted in one slot, uncounted in another).
        count bigint NOT NULL,
        PRIMARY KEY (project_id, slot)
    );
    INSERT INTO customer_counts (project_id, slot, count)
        SELECT id, 0, customers_count FROM projects WHERE customers_count <> 0;
    ALTER TABLE projects DROP COLUMN customers_count, DROP COLUMN customer_clock;


    CREATE FUNCTION patron_count_customers(project text, delta bigint) RETURNS void
        LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        chosen smallint;
    BEGIN
        SELECT slot INTO chosen FROM customer_counts WHERE project_id = project
            ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            UPDATE customer_counts SET count = count + delta
                WHERE project_id = project AND slot = chosen;
        ELSE
            -- Every slot is held: one of 32,768 at random, most likely a new one (should it be
            -- one another transaction holds, this one waits for that one to commit).
            INSERT INTO customer_counts AS k (project_id, slot, count)
                VALUES (project, floor(random() * 32768)::smallint, delta)
            ON CONFLICT (project_id, slot) DO UPDATE SET count = k.count + excluded.count;
        END IF;
    END
    $$;

    CREATE FUNCTION patron_render_timestamp(moment timestamptz) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        RETURN to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

    CREATE FUNCTION patron_hold_segments(project text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock_shared(40002, hashtext(project));
        RETURN EXISTS (
            SELECT 1 FROM segments WHERE project_id = project AND type = 'auto-update'
        );
    END
    $$;

    CREATE FUNCTION patron_customer_created_at(project text) RETURNS timestamptz
        LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        newest constant timestamptz := date_trunc('milliseconds', clock_timestamp());
        project_key constant bigint := hashtext(project)::bigint << 32;
        candidate timestamptz;
    BEGIN
        -- A few milliseconds back at most: a busier project shares one rather than wait or
        -- look further.
        FOR step IN 0..7 LOOP
            candidate := newest - step * interval '1 millisecond';
            -- Free among committed customers, not held by a creation in flight, and still free
            -- once held: a creation that committed between the first look and the lock (and so
            -- released it) is seen by the second look. Three statements, so that each look
            -- takes its own snapshot.
            IF NOT EXISTS (
                SELECT 1 FROM customers
                WHERE project_id = project AND created_at = candidate AND deleted_at IS NULL
            ) THEN
                IF pg_try_advisory_xact_lock(
                    project_key
                    | ((extract(epoch FROM candidate) * 1000)::bigint & x'ffffffff'::bigint)
                ) THEN
                    IF NOT EXISTS (
                        SELECT 1 FROM customers
                        WHERE project_id = project AND created_at = candidate
                          AND deleted_at IS NULL
                    ) THEN
                        RETURN candidate;
                    END IF;
                END IF;
            END IF;
        END LOOP;
        RETURN newest;
    END
    $$;
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION patron_customer_created_at(text);
    DROP FUNCTION patron_hold_segments(text);
    DROP FUNCTION patron_render_timestamp(timestamptz);
    DROP FUNCTION patron_count_customers(text, bigint);
    ALTER TABLE projects
        ADD COLUMN customer_clock timestamptz NOT NULL DEFAULT '-infinity',
        ADD COLUMN customers_count bigint NOT NULL DEFAULT 0 CHECK (customers_count >= 0);
    UPDATE projects p SET
        customers_count = coalesce(
            (SELECT sum(count) FROM customer_counts c WHERE c.project_id = p.id), 0),
        customer_clock = coalesce(
            (SELECT max(created_at) FROM customers c WHERE c.project_id = p.id), '-infinity');
    DROP TABLE customer_counts;
    """)

"""Stored responses for Idempotency-Key retries (patron.idempotency).

One row per project and `Idempotency-Key` sent with a POST: the fingerprint of the request
that first used the key (a SHA-256 of its method, path, query string and body), whether that
request is still `running` or `done`, and once done the response it got (status, headers,
body). `owner` is the random token of the request that holds a running key, so that only it
stores or releases it. A key lives 24 hours from `created_at`; older rows count as absent and
are deleted in batches by the worker loop (the `created_at` index, the one index here that
does not start with the project: the sweep crosses projects).

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
    op.execute("""
    CREATE TABLE idempotency_keys (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        -- the key as sent (1 to 255 characters) after its credentials' space: `app:` or
        -- `client:<client key id>:` (idempotency/asgi.py)
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 400),
        fingerprint bytea NOT NULL,
        state text NOT NULL CHECK (state IN ('running', 'done')),
        owner uuid NOT NULL,
        status smallint,
        headers jsonb,
        body bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, key),
        CHECK ((state = 'done') = (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL))
    );
    CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys")

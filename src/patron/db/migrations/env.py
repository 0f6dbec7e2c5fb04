"""Alembic environment: runs the hand-written SQL revisions over psycopg.

The application speaks asyncpg; migrations use psycopg because its simple-query protocol runs
a revision's multi-statement SQL as written.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine.url import make_url

# Serialises concurrent `patron serve` starts on one database.
MIGRATION_LOCK_KEY = 7_291_604_331


logger = logging.getLogger("patron")


def _log_applied(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    logger.info("migration applied: %s", step.up_revision_id)


def _sqlalchemy_url(dsn: str) -> str:
    url = make_url(dsn)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _run_online() -> None:
    dsn: str = context.config.attributes["dsn"]
    engine = create_engine(_sqlalchemy_url(dsn))
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            connection.commit()
            try:
                context.configure(
                    connection=connection,
                    transaction_per_migration=True,
                    on_version_apply=_log_applied,
                )
                with context.begin_transaction():
                    context.run_migrations()
                connection.commit()
            finally:
                connection.rollback()
                connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                connection.commit()
    finally:
        engine.dispose()


_run_online()

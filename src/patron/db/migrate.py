"""Alembic migrations, applied programmatically: the only source of the schema."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["dsn"] = dsn
    return config


def upgrade(dsn: str, revision: str = "head") -> None:
    """Bring the database at `dsn` up to `revision`; safe to run from several processes at once.

    Logs one line per revision applied (migrations/env.py), and nothing when there is none:
    Alembic's own INFO lines, printed on every run, are kept to its warnings.
    """
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(alembic_config(dsn), revision)


async def current_revision(conn: Any) -> str | None:
    """The revision the database is at (None before the first migration)."""
    value = await conn.fetchval(
        "SELECT version_num FROM alembic_version WHERE to_regclass('alembic_version') IS NOT NULL"
    )
    return None if value is None else str(value)


async def unsafe_durability_settings(conn: Any) -> list[str]:
    """The settings under which PostgreSQL may lose acknowledged commits on a crash."""
    unsafe = []
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        value = await conn.fetchval(f"SHOW {setting}")
        if value == "off":
            unsafe.append(f"{setting}=off")
    return unsafe


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def connection_limit(conn: Any) -> int:
    """How many connections PostgreSQL accepts from a role that is not a superuser:
    max_connections less superuser_reserved_connections and, from PostgreSQL 16 on,
    reserved_connections."""
    value = await conn.fetchval(
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int"
        " - coalesce(current_setting('reserved_connections', true)::int, 0)"
    )
    return int(value)

"""A WHERE clause built from whitelisted fragments, each value a numbered parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from patron.db.pool import Connection


class Where:
    """Conditions joined by AND, and the arguments of their `$n` parameters, in order.

    `fixed` conditions come first with their `args` (`project_id = $1` …); `filtered` adds one
    fragment per filter from a repository's whitelist (`"campaign_type = {}"`), never text from
    a client, its value passed as the next parameter.
    """

    def __init__(self, fixed: list[str], args: list[Any]) -> None:
        self.conditions = list(fixed)
        self.args = list(args)

    def add(self, template: str, value: Any) -> None:
        self.args.append(value)
        self.conditions.append(template.format(f"${len(self.args)}"))

    def filtered(self, fragments: Mapping[str, str], filters: Mapping[str, Any]) -> Where:
        for name, value in filters.items():
            self.add(fragments[name], value)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions)

    def page(self) -> str:
        """` LIMIT $n OFFSET $n+1`, for the two arguments that follow `args`."""
        return f" LIMIT ${len(self.args) + 1} OFFSET ${len(self.args) + 2}"


async def fetch_page(
    conn: Connection, table: str, where: Where, ordering: str, *, limit: int, offset: int
) -> list[asyncpg.Record]:
    """A page of `table`'s rows matching `where`, in `ordering` (a repository's whitelisted
    ORDER BY text)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT * FROM {table} WHERE {where.sql} ORDER BY {ordering}{where.page()}",
        *where.args,
        limit,
        offset,
    )
    return rows


async def count_rows(conn: Connection, table: str, where: Where) -> int:
    """How many of `table`'s rows match `where`."""
    value = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where.sql}", *where.args)
    return int(value)

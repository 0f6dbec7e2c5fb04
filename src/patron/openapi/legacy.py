"""The hand-written parts of the document for routes not yet described by their types.

Temporary: each domain's module leaves `DOMAINS` when its routes carry `@operation`s.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from patron.openapi import (
    customers,
    system,
)

DOMAINS: tuple[ModuleType, ...] = (
    customers,
    system,
)

PATHS: dict[str, Any] = {}
SCHEMAS: dict[str, Any] = {}
for _domain in DOMAINS:
    PATHS.update(_domain.PATHS)
    SCHEMAS.update(_domain.SCHEMAS)

"""Which code carries out each type of async action."""

from __future__ import annotations

from patron.async_actions.schemas import ORDERS_IMPORT
from patron.async_actions.service import Handler
from patron.customers.bulk import CUSTOMER_HANDLERS
from patron.orders.service import apply_import

HANDLERS: dict[str, Handler] = {**CUSTOMER_HANDLERS, ORDERS_IMPORT: apply_import}

# Rows per batch where the default (PATRON_WORKER_BATCH_SIZE) would not let progress move:
# an order import has at most 2,000 rows, each a full order upsert.
BATCH_SIZES: dict[str, int] = {ORDERS_IMPORT: 100}

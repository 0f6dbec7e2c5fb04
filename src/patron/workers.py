"""Which code carries out each type of async action."""

from __future__ import annotations

from patron.async_actions.schemas import ORDERS_IMPORT
from patron.async_actions.service import Handler
from patron.customers.bulk import CUSTOMER_HANDLERS
from patron.orders.service import apply_import

HANDLERS: dict[str, Handler] = {**CUSTOMER_HANDLERS, ORDERS_IMPORT: apply_import}

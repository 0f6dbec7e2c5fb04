"""Which code carries out each type of async action."""

from __future__ import annotations

import asyncio

from patron.async_actions.schemas import ORDERS_IMPORT
from patron.async_actions.service import Handler
from patron.async_actions.worker import Worker
from patron.campaigns.service import BATCH_SIZES as CAMPAIGN_BATCH_SIZES
from patron.campaigns.service import HANDLERS as CAMPAIGN_HANDLERS
from patron.config import Settings
from patron.customers.bulk import CUSTOMER_HANDLERS
from patron.db.pool import Pool
from patron.idempotency.service import forget_expired_keys
from patron.orders.service import apply_import
from patron.segments.jobs import keep_segments_current
from patron.vouchers.bulk import BATCH_SIZES as VOUCHER_BATCH_SIZES
from patron.vouchers.bulk import HANDLERS as VOUCHER_HANDLERS

HANDLERS: dict[str, Handler] = {
    **CUSTOMER_HANDLERS,
    ORDERS_IMPORT: apply_import,
    **CAMPAIGN_HANDLERS,
    **VOUCHER_HANDLERS,
}

# Rows per batch where the default (PATRON_WORKER_BATCH_SIZE) would not let progress move:
# an order import has at most 2,000 rows, each a full order upsert.
BATCH_SIZES: dict[str, int] = {
    ORDERS_IMPORT: 100,
    **CAMPAIGN_BATCH_SIZES,
    **VOUCHER_BATCH_SIZES,
}


async def run_workers(pool: Pool, settings: Settings, stop: asyncio.Event) -> None:
    """What a worker process (or the worker inside `patron serve`) does until `stop`: carry
    out async actions, keep time-dependent segments current, and delete expired idempotency
    keys."""
    worker = Worker(
        pool,
        HANDLERS,
        poll_seconds=settings.worker_poll_seconds,
        batch_size=settings.worker_batch_size,
        batch_sizes=BATCH_SIZES,
    )
    await asyncio.gather(
        worker.run(stop),
        keep_segments_current(pool, stop, every_seconds=settings.segments_refresh_seconds),
        forget_expired_keys(pool, stop),
    )

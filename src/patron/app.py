"""The application: routes, error handling, and the database pool's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from litestar import Litestar
from litestar.datastructures import State

from patron.activities.routes import ActivityRoutes
from patron.assets.routes import get_voucher_barcode, get_voucher_qr_code
from patron.async_actions.routes import AsyncActionRoutes
from patron.campaigns.routes import CampaignRoutes
from patron.campaigns.transactions_routes import CampaignTransactionRoutes
from patron.config import MAX_BODY_BYTES, Settings
from patron.consents.routes import list_consents, update_customer_consents
from patron.customers.routes import CustomerRoutes, create_customer_client_side
from patron.db import migrate
from patron.db.pool import Pool, create_pool
from patron.errors import handle_exception
from patron.events.routes import track_custom_event
from patron.exports.routes import ExportRoutes, create_order_export
from patron.health import health
from patron.idempotency.asgi import Idempotency
from patron.kit.asgi import RequestContext
from patron.kit.collector import settle_after_startup
from patron.kit.http import PUBLIC_URL, answer_options
from patron.kit.ratelimit import ClientRateLimit
from patron.metrics import METRICS_TOKEN, MetricsPort, serve_metrics
from patron.openapi.document import document_of
from patron.openapi.routes import api_reference, api_reference_script, api_reference_style
from patron.openapi.routes import openapi_document as serve_openapi_document
from patron.orders.routes import OrderRoutes
from patron.projects.asgi import Authentication, ClientOrigins
from patron.projects.service import Authenticator, ClientAuthenticator, CredentialListener
from patron.publications.routes import (
    create_publication,
    create_publication_by_query,
    list_customer_redeemables,
    list_publications,
)
from patron.redemptions.routes import ROUTES as REDEMPTION_ROUTES
from patron.segments.routes import SegmentRoutes, list_customer_segments
from patron.validation_rules.routes import (
    ValidationRuleRoutes,
    list_validation_rules_assignments,
)
from patron.vouchers.bulk_routes import VoucherBulkRoutes
from patron.vouchers.routes import VoucherRoutes
from patron.workers import run_workers

# The app state's keys for the credential checks (`create_asgi`), whose caches the lifespan
# keeps true to the database.
AUTHENTICATOR = "patron.authenticator"
CLIENT_AUTHENTICATOR = "patron.client_authenticator"
# How long startup waits for the credential listener's LISTEN before serving anyway.
LISTEN_WAIT_SECONDS = 5.0


def create_app(settings: Settings, dsn: str) -> Litestar:
    """The Litestar app serving Patron's API from the database at `dsn` (already migrated)."""

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncGenerator[None, None]:
        pool = await create_pool(
            dsn, min_size=settings.pool_min_size, max_size=settings.pool_max_size
        )
        app.state.pool = pool
        app.state.schema_revision = migrate.head_revision()
        stop = asyncio.Event()
        worker_task = None
        if settings.worker:
            worker_task = asyncio.create_task(
                run_workers(pool, settings, stop), name="patron-worker"
            )
        # Rotated tokens and deleted client keys are refused at once (projects/service.py).
        listener = CredentialListener.of(
            dsn, app.state[AUTHENTICATOR], app.state[CLIENT_AUTHENTICATOR]
        )
        listener_task = asyncio.create_task(listener.run(), name="patron-credentials")
        # Serve once it listens, so credentials are cached from the first request; a database
        # that does not let it listen yet only costs each request a credential read meanwhile.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.listening.wait(), LISTEN_WAIT_SECONDS)
        metrics_task = None
        if settings.metrics == "port":
            assert settings.metrics_port is not None  # Settings refuses `port` without it
            metrics_port = MetricsPort(settings.metrics_host, settings.metrics_port, lambda: pool)
            metrics_task = asyncio.create_task(metrics_port.run(), name="patron-metrics-port")
        settle_after_startup()
        try:
            yield
        finally:
            for task in (listener_task, metrics_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            stop.set()
            if worker_task is not None:
                await worker_task
            await pool.close()

    app = Litestar(
        route_handlers=[
            health,
            serve_openapi_document,
            api_reference,
            api_reference_script,
            api_reference_style,
            CustomerRoutes,
            create_customer_client_side,
            ActivityRoutes,
            AsyncActionRoutes,
            OrderRoutes,
            SegmentRoutes,
            CampaignRoutes,
            CampaignTransactionRoutes,
            VoucherRoutes,
            VoucherBulkRoutes,
            create_publication,
            create_publication_by_query,
            list_publications,
            list_customer_redeemables,
            list_customer_segments,
            track_custom_event,
            list_consents,
            update_customer_consents,
            get_voucher_qr_code,
            get_voucher_barcode,
            *REDEMPTION_ROUTES,
            ValidationRuleRoutes,
            list_validation_rules_assignments,
            ExportRoutes,
            create_order_export,
            # Off: not served at all, so `/metrics` answers 404 like any unknown path.
            # Port: served on PATRON_METRICS_PORT instead (MetricsPort, in the lifespan).
            *([serve_metrics] if settings.metrics in ("open", "token") else []),
        ],
        state=State(
            {
                PUBLIC_URL: settings.public_url,
                METRICS_TOKEN: settings.metrics_token if settings.metrics == "token" else None,
            }
        ),
        exception_handlers={Exception: handle_exception},
        before_request=answer_options,
        lifespan=[database],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )

    def pool() -> Pool:
        # Only when a credential is not cached: the pool exists once the app has started.
        return app.state.pool  # type: ignore[no-any-return]

    app.state[AUTHENTICATOR] = Authenticator(pool)
    app.state[CLIENT_AUTHENTICATOR] = ClientAuthenticator(pool)
    return app


def create_asgi(settings: Settings, dsn: str) -> Any:
    """The app behind its outer layers: a request id for every request, then authentication,
    then idempotency keys for POST requests."""
    app = create_app(settings, dsn)

    def pool() -> Pool:
        # Only when a credential is not cached: the pool exists once the app has started.
        return app.state.pool  # type: ignore[no-any-return]

    limit = ClientRateLimit(pool, settings.client_rate_limit, settings.client_rate_seconds)
    # After authentication (it needs the project), before routing (every POST route has it).
    idempotent = Idempotency(app, pool, wait_seconds=settings.idempotency_wait_seconds)
    return RequestContext(
        Authentication(
            idempotent,
            app.state[AUTHENTICATOR],
            app.state[CLIENT_AUTHENTICATOR],
            limit,
            ClientOrigins(pool),
        ),
        access_log=settings.access_log,
        metrics=settings.metrics != "off",
    )


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app `patron serve` builds (read-only; for tests and tools)."""
    return document_of(create_app(Settings(), "postgresql://unused"))

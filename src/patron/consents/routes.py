"""HTTP routes for consents, server-side and client-side."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.consents import service
from patron.consents.schemas import Choices, ConsentsList
from patron.customers import service as customers
from patron.customers.schemas import CUSTOMER_PATH as PATH
from patron.dependencies import actor_of, project_of, snapshot, transaction
from patron.kit.http import json_response, read_json
from patron.openapi.operation import operation

TAG = "Consents"


@operation(
    "list-consents",
    TAG,
    response=ConsentsList,
    response_description="Groups and consents.",
    deprecated=True,
)
@get(["/v1/consents", "/client/v1/consents"])
async def list_consents(request: Request[Any, Any, Any]) -> ASGIApp:
    """Deprecated: the project's consent groups and consents."""
    project = project_of(request)
    async with snapshot(request) as conn:
        return json_response(await service.list_all(conn, project.id))


@operation(
    "update-customers-consents",
    TAG,
    path=PATH,
    body=Choices,
    body_description="The choices.",
    response_description="Recorded.",
    errors=("NotFound",),
    deprecated=True,
    description="Records the customer's choices in `system_metadata.consents` and what they"
    " change as `customer.consents.given`/`revoked` activities (on the legacy `/activities`);"
    " a request that changes nothing records nothing.",
)
@put(
    ["/v1/customers/{customer_id:str}/consents", "/client/v1/customers/{customer_id:str}/consents"],
    status_code=204,
)
async def update_customer_consents(
    request: Request[Any, Any, Any],
    customer_id: FromPath[str],
) -> None:
    """Deprecated: record a customer's consents (`{"cnst_…": true, "unsubscribed": true}`)."""
    actor = actor_of(request)
    choices: dict[str, Any] = await read_json(request, Choices)
    key = customers.key_from_path(customer_id)
    async with transaction(request) as conn:
        await service.update_customer_consents(conn, actor, key, choices=choices)

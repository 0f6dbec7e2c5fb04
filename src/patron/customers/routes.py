"""HTTP routes for customers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.config import MAX_IMPORT_BYTES
from patron.customers import bulk, service
from patron.customers.schemas import CustomerCreate, CustomerUpdate, check_fields
from patron.customers.service import ListFilters
from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.kit import query
from patron.kit.http import json_response, read_json
from patron.kit.multipart import spool_file_field


class CustomerRoutes(Controller):
    path = "/v1/customers"

    @post("/", status_code=200)
    async def create_customer(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Create a customer, or update the one with the same `id` or `source_id`."""
        actor = actor_of(request)
        payload: CustomerCreate = await read_json(request, CustomerCreate)
        check_fields(payload)
        async with transaction(request) as conn:
            customer = await service.upsert(conn, actor, payload=payload)
        return json_response(customer)

    @post("/bulk/async", status_code=202)
    async def update_customers_in_bulk(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue upserts of many customers by source_id; answers the async action's id."""
        actor = actor_of(request)
        rows: list[Any] = await read_json(request, list[Any])
        async with transaction(request) as conn:
            action_id = await bulk.enqueue_bulk_update(conn, actor, rows)
        return json_response({"async_action_id": action_id}, status=202)

    @post("/metadata/async", status_code=202)
    async def update_customers_metadata_in_bulk(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue a merge of `metadata` into the customers with these `source_ids`."""
        actor = actor_of(request)
        body: bulk.MetadataBulk = await read_json(request, bulk.MetadataBulk)
        async with transaction(request) as conn:
            action_id = await bulk.enqueue_metadata_update(conn, actor, body)
        return json_response({"async_action_id": action_id}, status=202)

    @post("/importCSV", status_code=202, request_max_body_size=MAX_IMPORT_BYTES)
    async def import_customers_using_csv(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue an import of the CSV file in multipart field `file`, upserting by Source_id."""
        actor = actor_of(request)
        # The upload is spooled to a file before the transaction: a slow client holds no
        # database connection.
        file = await spool_file_field(request, "file")
        try:
            async with transaction(request) as conn:
                action_id = await bulk.enqueue_csv_import(conn, actor, file)
        finally:
            file.close()
        return json_response({"async_action_id": action_id}, status=202)

    @get("/")
    async def list_customers(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """List customers with filters, ordering and pagination."""
        project = project_of(request)
        params = request.query_params
        filters = ListFilters(
            limit=query.integer(params, "limit", default=10, minimum=1, maximum=100),
            page=query.integer(params, "page", default=1, minimum=1, maximum=99),
            email=query.text(params, "email"),
            city=query.text(params, "city"),
            name=query.text(params, "name"),
            created_before=query.timestamp(params, "created_at[before]"),
            created_after=query.timestamp(params, "created_at[after]"),
            updated_before=query.timestamp(params, "updated_at[before]"),
            updated_after=query.timestamp(params, "updated_at[after]"),
            order=query.choice(params, "order", service.LIST_ORDERS) or "-created_at",
            starting_after=query.timestamp(params, "starting_after"),
            segment_id=query.text(params, "segment_id") or None,
        )
        async with snapshot(request) as conn:
            page = await service.list_customers(conn, project.id, filters)
        return json_response(page)

    @get("/{customer_id:str}")
    async def get_customer(
        self,
        customer_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Get a customer by `id` or `source_id`."""
        project = project_of(request)
        key = service.key_from_path(customer_id)
        async with read(request) as conn:
            customer = await service.get(conn, project.id, key)
        return json_response(customer)

    @put("/{customer_id:str}")
    async def update_customer(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[str],
    ) -> ASGIApp:
        """Update only the fields sent; `null` clears a field; `source_id` cannot change."""
        actor = actor_of(request)
        payload: CustomerUpdate = await read_json(request, CustomerUpdate)
        check_fields(payload)
        key = service.key_from_path(customer_id)
        async with transaction(request) as conn:
            customer = await service.update(conn, actor, key, payload=payload)
        return json_response(customer)

    @delete("/{customer_id:str}", status_code=204)
    async def delete_customer(
        self,
        customer_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> None:
        """Delete a customer; its source_id can then name a new customer."""
        actor = actor_of(request)
        async with transaction(request) as conn:
            await service.delete(conn, actor, service.key_from_path(customer_id))

    @post("/{customer_id:str}/permanent-deletion", status_code=200)
    async def delete_customer_permanently(
        self,
        customer_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Erase a customer and everything that identifies them, activities included."""
        actor = actor_of(request)
        key = service.key_from_path(customer_id)
        async with transaction(request) as conn:
            deletion = await service.delete_permanently(conn, actor, key)
        return json_response(deletion)

"""HTTP routes for customers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.async_actions.schemas import ACCEPTED_LINKS, AsyncActionAccepted
from patron.config import MAX_IMPORT_BYTES
from patron.customers import bulk, service
from patron.customers.schemas import (
    CUSTOMER_PATH,
    BulkRows,
    CustomerCreate,
    CustomerObject,
    CustomersList,
    CustomerUpdate,
    PermanentDeletion,
    check_fields,
)
from patron.customers.service import ListFilters
from patron.dependencies import actor_of, connection, project_of, read, snapshot, transaction
from patron.errors import InvalidPayload
from patron.kit import query
from patron.kit.http import json_response, read_json
from patron.kit.multipart import spool_file_field
from patron.openapi.operation import FileUpload, Link, operation

TAG = "Customers"

PATH = CUSTOMER_PATH

_BY_ID = {"customerId": "$response.body#/id"}
CUSTOMER_LINKS = {
    "GetCustomer": Link("get-customer", "Read the customer.", _BY_ID),
    "UpdateCustomer": Link("update-customer", "Change the customer.", _BY_ID),
    "DeleteCustomer": Link("delete-customer", "Delete the customer.", _BY_ID),
    "DeleteCustomerPermanently": Link(
        "customer-permanently-deletion", "Erase the customer.", _BY_ID
    ),
    "ListCustomerActivity": Link("list-customer-activity", "The customer's timeline.", _BY_ID),
    "ListCustomerActivities": Link("list-customer-activities", "The timeline, legacy.", _BY_ID),
    "UpdateCustomerConsents": Link("update-customers-consents", "Record consents.", _BY_ID),
}

# The parameters of GET /v1/customers: parsed below, and shown by the document.
LIMIT = query.limit()
PAGE = query.page(99)
EMAIL = query.Text("email", "Only customers with exactly this e-mail.")
CITY = query.Text("city", "Only customers in exactly this city.")
NAME = query.Text("name", "Only customers with exactly this name.")
CREATED_BEFORE = query.Timestamp("created_at[before]", "Created before this moment.")
CREATED_AFTER = query.Timestamp("created_at[after]", "Created after this moment.")
UPDATED_BEFORE = query.Timestamp("updated_at[before]", "Last changed before this moment.")
UPDATED_AFTER = query.Timestamp("updated_at[after]", "Last changed after this moment.")
ORDER = query.Choice("order", "Sort order (`-created_at`).", service.LIST_ORDERS)
STARTING_AFTER = query.Timestamp(
    "starting_after",
    "A cursor on `created_at`: customers created before it (after it with `order=created_at`;"
    " updated after it with `order=updated_at`).",
)
SEGMENT_ID = query.Text(
    "segment_id", "Only members of this segment (404 when there is no such segment)."
)


async def _upsert(request: Request[Any, Any, Any]) -> ASGIApp:
    actor = actor_of(request)
    payload: CustomerCreate = await read_json(request, CustomerCreate)
    check_fields(payload)
    # The write path opens the transaction: a new customer is one statement on its own.
    async with connection(request) as conn:
        customer = await service.upsert(conn, actor, payload=payload)
    return json_response(customer)


# Sent by the JS client SDK's `createCustomer(customer, true)`: Voucherify then asks the customer
# to confirm their e-mail before creating them. Patron has no double opt-in yet.
DOUBLE_OPT_IN = "x-voucherify-double-opt-in"


@operation(
    "create-customer",
    TAG,
    body=CustomerCreate,
    body_description="The customer.",
    response=CustomerObject,
    response_description="The created or updated customer.",
    errors=("NotFound",),
    description="The JS client SDK's `createCustomer`, from a page of an allowed origin: the"
    " same upsert as `POST /v1/customers`, with the same body and answer (only the properties"
    " sent change, `id` wins over `source_id`). The header `X-Voucherify-Double-Opt-In`"
    " (`createCustomer(customer, true)`) is refused with a 400: double opt-in is not supported.",
)
@post("/client/v1/customers", status_code=200)
async def create_customer_client_side(request: Request[Any, Any, Any]) -> ASGIApp:
    """Create a customer, or update the one with the same `id` or `source_id`, from a page."""
    if DOUBLE_OPT_IN in request.headers:
        raise InvalidPayload(
            "X-Voucherify-Double-Opt-In is not supported: double opt-in is not implemented yet;"
            " send the request without this header"
        )
    return await _upsert(request)


class CustomerRoutes(Controller):
    path = "/v1/customers"

    @operation(
        "create-customer",
        TAG,
        body=CustomerCreate,
        body_description="The customer.",
        response=CustomerObject,
        response_description="The created or updated customer.",
        links=CUSTOMER_LINKS,
        errors=("NotFound",),
        description="Creates a customer, or updates the one with the same `id` or `source_id`"
        " (`id` wins); only the properties sent change. Answers 200 either way.",
    )
    @post("/", status_code=200)
    async def create_customer(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Create a customer, or update the one with the same `id` or `source_id`."""
        return await _upsert(request)

    @operation(
        "update-customers-in-bulk",
        TAG,
        body=BulkRows,
        body_description="The customers.",
        response=AsyncActionAccepted,
        response_description="Queued.",
        links=ACCEPTED_LINKS,
        description="Queues upserts by `source_id` of every element. An element that is not a"
        " valid customer is reported in the async action's `result`, and the others are applied.",
    )
    @post("/bulk/async", status_code=202)
    async def update_customers_in_bulk(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue upserts of many customers by source_id; answers the async action's id."""
        actor = actor_of(request)
        rows: list[Any] = await read_json(request, BulkRows)
        async with transaction(request) as conn:
            action_id = await bulk.enqueue_bulk_update(conn, actor, rows)
        return json_response({"async_action_id": action_id}, status=202)

    @operation(
        "update-customers-metadata-in-bulk",
        TAG,
        body=bulk.MetadataBulk,
        body_description="Which customers, what metadata.",
        response=AsyncActionAccepted,
        response_description="Queued.",
        links=ACCEPTED_LINKS,
        description="Queues a merge of `metadata` into the metadata of each customer in"
        " `source_ids`; missing customers are created.",
    )
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

    @operation(
        "import-customers-using-csv",
        TAG,
        body=FileUpload("file", "text/csv", "The CSV file, up to 2 GiB."),
        response=AsyncActionAccepted,
        response_description="Queued.",
        links=ACCEPTED_LINKS,
        description="Queues an import of the CSV file in the multipart field `file`: a row with an"
        " `Id` updates that customer (an unknown id fails the row), any other row upserts by its"
        " `Source_id`; metadata columns are typed as a whole (see the README). A file that is"
        " empty, not UTF-8, not comma-separated CSV, or without an `Id` or `Source_id` column is"
        " a 400.",
    )
    @post("/importCSV", status_code=202, request_max_body_size=MAX_IMPORT_BYTES)
    async def import_customers_using_csv(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue an import of the CSV file in multipart field `file`, by Id or Source_id."""
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

    @operation(
        "list-customers",
        TAG,
        query=(
            LIMIT,
            PAGE,
            EMAIL,
            CITY,
            NAME,
            CREATED_BEFORE,
            CREATED_AFTER,
            UPDATED_BEFORE,
            UPDATED_AFTER,
            ORDER,
            STARTING_AFTER,
            SEGMENT_ID,
        ),
        response=CustomersList,
        response_description="A page of customers.",
        errors=("InvalidQueryParams", "NotFound"),
        description="Customers, newest first by default, with filters, pages and a"
        " `starting_after` cursor.",
    )
    @get("/")
    async def list_customers(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """List customers with filters, ordering and pagination."""
        project = project_of(request)
        params = request.query_params
        filters = ListFilters(
            limit=LIMIT.parse(params),
            page=PAGE.parse(params),
            email=EMAIL.parse(params),
            city=CITY.parse(params),
            name=NAME.parse(params),
            created_before=CREATED_BEFORE.parse(params),
            created_after=CREATED_AFTER.parse(params),
            updated_before=UPDATED_BEFORE.parse(params),
            updated_after=UPDATED_AFTER.parse(params),
            order=ORDER.parse(params) or "-created_at",
            starting_after=STARTING_AFTER.parse(params),
            segment_id=SEGMENT_ID.parse(params) or None,
        )
        async with snapshot(request) as conn:
            page = await service.list_customers(conn, project.id, filters)
        return json_response(page)

    @operation(
        "get-customer",
        TAG,
        path=PATH,
        response=CustomerObject,
        response_description="The customer.",
        links=CUSTOMER_LINKS,
        errors=("NotFound",),
    )
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

    @operation(
        "update-customer",
        TAG,
        path=PATH,
        body=CustomerUpdate,
        body_description="What to change.",
        response=CustomerObject,
        response_description="The customer, changed.",
        errors=("NotFound",),
    )
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

    @operation(
        "delete-customer",
        TAG,
        path=PATH,
        response_description="Deleted.",
        errors=("NotFound",),
        description="The customer disappears from every read, and its `source_id` is free for a"
        " new customer. Its activities stay until a permanent deletion.",
    )
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

    @operation(
        "customer-permanently-deletion",
        TAG,
        path=PATH,
        response=PermanentDeletion,
        response_description="What was erased.",
        errors=("NotFound",),
        description="Erases the customer and everything that identifies them: activities,"
        " orders, events. By `source_id` it erases every customer, live or deleted, that had it."
        " The body is ignored.",
    )
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

"""Customers: create-or-upsert, read, update, delete, list, permanent deletion, bulk work."""

from __future__ import annotations

from patron.customers.schemas import EMAIL_PATTERN
from patron.openapi.common import (
    NO_NUL,
    Schema,
    array,
    boolean,
    calendar_date,
    const,
    date_parameter,
    enum,
    errors,
    exact,
    free_object,
    integer,
    json_body,
    json_response,
    limit_parameter,
    link,
    metadata,
    no_content,
    obj,
    operation,
    or_null,
    page_parameter,
    path_parameter,
    query_parameter,
    query_text,
    ref,
    string,
    text,
    timestamp,
)

TAG = "Customers"

CUSTOMER_ID = path_parameter(
    "customerId",
    "The customer's `id` or `source_id` (percent-encoded; a source_id may be an e-mail address).",
)

INDEXED = " At most 1,000 bytes of UTF-8."


ADDRESS_REQUEST = obj(
    {
        "city": text(1000, nullable=True, description="City." + INDEXED),
        "state": text(nullable=True, description="State."),
        "line_1": text(nullable=True, description="First line of the address."),
        "line_2": text(nullable=True, description="Second line of the address."),
        "country": text(nullable=True, description="Country."),
        "postal_code": text(nullable=True, description="Postal code."),
    },
    closed=False,
    nullable=True,
    description="The customer's address; `null` clears it.",
)

CUSTOMER_FIELDS: dict[str, Schema] = {
    "name": text(1000, nullable=True, description="First and last name." + INDEXED),
    "description": text(nullable=True, description="Anything to remember about the customer."),
    "email": or_null(
        {
            "type": "string",
            "maxLength": 254,
            "pattern": EMAIL_PATTERN,
            "description": "E-mail address.",
        }
    ),
    "phone": text(nullable=True, description="Phone number."),
    "birthdate": calendar_date(nullable=True, description="Birth date, `YYYY-MM-DD`."),
    "birthday": calendar_date(nullable=True, description="Deprecated alias of `birthdate`."),
    "address": ADDRESS_REQUEST,
    "metadata": metadata(
        "Custom attributes; sent, it replaces the stored metadata whole (`null` clears it).",
        nullable=True,
    ),
}

CUSTOMER_CREATE = obj(
    {
        "id": or_null(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": NO_NUL,
                "description": "The `id` of an existing customer to update (404 if there is none);"
                " it wins over `source_id`.",
            }
        ),
        "source_id": text(
            1000,
            min_length=1,
            nullable=True,
            description="The shop's own identifier; an existing customer with it is updated."
            + INDEXED,
        ),
        **CUSTOMER_FIELDS,
    },
    closed=False,
    title="Customers Create Request Body",
    description="Every property is optional; only the ones sent change. Unknown properties are"
    " ignored.",
)

CUSTOMER_UPDATE = obj(
    dict(CUSTOMER_FIELDS),
    closed=False,
    title="Customers Update Request Body",
    description="Only the properties sent change; `null` clears one. A `source_id` sent here is"
    " ignored: it cannot change.",
)

_COUNT = integer(minimum=0)

CUSTOMER = obj(
    {
        "id": string(description="`cust_` and 24 letters or digits.", example="cust_xyz"),
        "source_id": string(nullable=True),
        "name": string(nullable=True),
        "description": string(nullable=True),
        "email": string(nullable=True),
        "phone": string(nullable=True),
        "birthdate": string(nullable=True, format="date"),
        "birthday": string(format="date", description="Present only when it was set."),
        "address": or_null(
            exact(
                {
                    name: string(nullable=True)
                    for name in ("city", "state", "line_1", "line_2", "country", "postal_code")
                }
            )
        ),
        "metadata": free_object(),
        "summary": exact(
            {
                "redemptions": exact(
                    {
                        "total_redeemed": _COUNT,
                        "total_failed": _COUNT,
                        "total_succeeded": _COUNT,
                        "total_rolled_back": _COUNT,
                        "total_rollback_failed": _COUNT,
                        "total_rollback_succeeded": _COUNT,
                        "gift": exact({"redeemed_amount": _COUNT, "amount_to_go": _COUNT}),
                        "loyalty_card": exact({"redeemed_points": _COUNT, "points_to_go": _COUNT}),
                    },
                    description="Zero: redemptions arrive in a later release.",
                ),
                "orders": obj(
                    {
                        "total_amount": _COUNT,
                        "total_count": _COUNT,
                        "average_amount": _COUNT,
                        "last_order_amount": _COUNT,
                        "last_order_date": timestamp(),
                    },
                    ["total_amount", "total_count", "average_amount", "last_order_amount"],
                    description="PAID and FULFILLED orders; amounts in the smallest currency unit.",
                ),
            }
        ),
        "loyalty": exact(
            {
                "points": _COUNT,
                "referred_customers": _COUNT,
                "campaigns": obj({}, description="Empty: no loyalty programs yet."),
            }
        ),
        "referrals": exact(
            {
                "total": _COUNT,
                "campaigns": array(free_object(), max_items=0, description="Empty."),
            }
        ),
        "system_metadata": free_object(
            description="`consents` holds the legacy consents as `{id: {date, value}}`."
        ),
        "created_at": timestamp(),
        "updated_at": timestamp(nullable=True, description="`null` until the first change."),
        "email_unsubscribed": boolean(),
        "assets": obj({}, description="Empty: there is no customer-facing page yet."),
        "object": const("customer"),
    },
    [
        "id",
        "source_id",
        "name",
        "description",
        "email",
        "phone",
        "birthdate",
        "address",
        "metadata",
        "summary",
        "loyalty",
        "referrals",
        "system_metadata",
        "created_at",
        "updated_at",
        "email_unsubscribed",
        "assets",
        "object",
    ],
    title="Customer",
)

PERMANENT_DELETION = exact(
    {
        "id": string(example="del_xyz"),
        "created_at": timestamp(),
        "related_object_id": string(description="The customer's id."),
        "related_object": const("customer"),
        "status": const("DONE"),
        "data_json": exact(
            {
                name: _COUNT
                for name in (
                    "events",
                    "customer_events",
                    "daily_events",
                    "segments",
                    "orders",
                    "order_events",
                    "customer",
                )
            },
            description="How many of each were erased.",
        ),
        "object": const("pernament_deletion", "Spelled as in Voucherify."),
    },
    title="Customers Permanent Deletion Create Response Body",
)

ASYNC_ACTION_ACCEPTED = exact(
    {"async_action_id": string(description="Follow it with GET /v1/async-actions/{id}.")},
    title="Async Action Accepted",
)

CUSTOMERS_LIST = exact(
    {
        "object": const("list"),
        "data_ref": const("customers"),
        "customers": array(ref("Customer")),
        "total": _COUNT,
        "has_more": boolean(),
    },
    title="Customers List Response Body",
)

_CUSTOMER_LINKS = {
    "GetCustomer": link("get-customer", "Read the customer.", customerId="$response.body#/id"),
    "UpdateCustomer": link(
        "update-customer", "Change the customer.", customerId="$response.body#/id"
    ),
    "DeleteCustomer": link(
        "delete-customer", "Delete the customer.", customerId="$response.body#/id"
    ),
    "DeleteCustomerPermanently": link(
        "customer-permanently-deletion", "Erase the customer.", customerId="$response.body#/id"
    ),
    "ListCustomerActivity": link(
        "list-customer-activity", "The customer's timeline.", customerId="$response.body#/id"
    ),
    "ListCustomerActivities": link(
        "list-customer-activities", "The timeline, legacy.", customerId="$response.body#/id"
    ),
    "UpdateCustomerConsents": link(
        "update-customers-consents", "Record consents.", customerId="$response.body#/id"
    ),
}

ASYNC_ACTION_LINKS = {
    "GetAsyncAction": link(
        "get-async-action", "Follow the action.", asyncActionId="$response.body#/async_action_id"
    )
}

LIST_ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id")

_CUSTOMER_RESPONSE = json_response(ref("Customer"), "The customer.", _CUSTOMER_LINKS)

PATHS: dict[str, Schema] = {
    "/v1/customers": {
        "post": operation(
            "create-customer",
            "Create Customer",
            TAG,
            description="Creates a customer, or updates the one with the same `id` or"
            " `source_id` (`id` wins); only the properties sent change. Answers 200 either way.",
            request_body=json_body(ref("CustomersCreateRequestBody"), "The customer."),
            responses={
                "200": json_response(
                    ref("Customer"), "The created or updated customer.", _CUSTOMER_LINKS
                ),
                **errors("NotFound"),
            },
        ),
        "get": operation(
            "list-customers",
            "List Customers",
            TAG,
            description="Customers, newest first by default, with filters, pages and a"
            " `starting_after` cursor.",
            parameters=[
                limit_parameter(),
                page_parameter(99),
                query_parameter("email", query_text(), "Only customers with exactly this e-mail."),
                query_parameter("city", query_text(), "Only customers in exactly this city."),
                query_parameter("name", query_text(), "Only customers with exactly this name."),
                date_parameter("created_at[before]", "Created before this moment."),
                date_parameter("created_at[after]", "Created after this moment."),
                date_parameter("updated_at[before]", "Last changed before this moment."),
                date_parameter("updated_at[after]", "Last changed after this moment."),
                query_parameter("order", enum(LIST_ORDERS), "Sort order (`-created_at`)."),
                date_parameter(
                    "starting_after",
                    "A cursor on `created_at`: customers created before it (after it with"
                    " `order=created_at`; updated after it with `order=updated_at`).",
                ),
                query_parameter(
                    "segment_id",
                    query_text(),
                    "Only members of this segment (404 when there is no such segment).",
                ),
            ],
            responses={
                "200": json_response(ref("CustomersListResponseBody"), "A page of customers."),
                **errors("InvalidQueryParams", "NotFound"),
            },
        ),
    },
    "/v1/customers/{customerId}": {
        "parameters": [CUSTOMER_ID],
        "get": operation(
            "get-customer",
            "Get Customer",
            TAG,
            responses={"200": _CUSTOMER_RESPONSE, **errors("NotFound")},
        ),
        "put": operation(
            "update-customer",
            "Update Customer",
            TAG,
            request_body=json_body(ref("CustomersUpdateRequestBody"), "What to change."),
            responses={
                "200": json_response(ref("Customer"), "The customer, changed."),
                **errors("NotFound"),
            },
        ),
        "delete": operation(
            "delete-customer",
            "Delete Customer",
            TAG,
            description="The customer disappears from every read, and its `source_id` is free"
            " for a new customer. Its activities stay until a permanent deletion.",
            responses={"204": no_content("Deleted."), **errors("NotFound")},
        ),
    },
    "/v1/customers/{customerId}/permanent-deletion": {
        "parameters": [CUSTOMER_ID],
        "post": operation(
            "customer-permanently-deletion",
            "Delete Customer Permanently",
            TAG,
            description="Erases the customer and everything that identifies them: activities,"
            " orders, events. By `source_id` it erases every customer, live or deleted, that"
            " had it. The body is ignored.",
            responses={
                "200": json_response(
                    ref("CustomersPermanentDeletionCreateResponseBody"), "What was erased."
                ),
                **errors("NotFound"),
            },
        ),
    },
    "/v1/customers/bulk/async": {
        "post": operation(
            "update-customers-in-bulk",
            "Update Customers in Bulk",
            TAG,
            description="Queues upserts by `source_id` of every element (each like"
            " `CustomersUpdateInBulkRequestBody`). An element that is not a valid customer is"
            " reported in the async action's `result`, and the others are applied.",
            request_body=json_body(
                array(ref("JsonValue"), description="Customers, each with a `source_id`."),
                "The customers.",
            ),
            responses={
                "202": json_response(
                    ref("AsyncActionAccepted"), "Queued.", dict(ASYNC_ACTION_LINKS)
                )
            },
        ),
    },
    "/v1/customers/metadata/async": {
        "post": operation(
            "update-customers-metadata-in-bulk",
            "Update Customers' Metadata in Bulk",
            TAG,
            description="Queues a merge of `metadata` into the metadata of each customer in"
            " `source_ids`; missing customers are created.",
            request_body=json_body(
                ref("CustomersMetadataUpdateInBulkRequestBody"), "Which customers, what metadata."
            ),
            responses={
                "202": json_response(
                    ref("AsyncActionAccepted"), "Queued.", dict(ASYNC_ACTION_LINKS)
                )
            },
        ),
    },
    "/v1/customers/importCSV": {
        "post": operation(
            "import-customers-using-csv",
            "Import and Update Customers using CSV",
            TAG,
            description="Queues an import of the CSV file in the multipart field `file`,"
            " upserting by its `Source_id` column (see the README for the columns). A file"
            " that is empty, not UTF-8, not CSV, or without a `Source_id` column is a 400.",
            request_body={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "file": {
                                    "type": "string",
                                    "contentMediaType": "text/csv",
                                    "description": "The CSV file, up to 2 GiB.",
                                }
                            },
                            "required": ["file"],
                        }
                    }
                },
            },
            responses={
                "202": json_response(
                    ref("AsyncActionAccepted"), "Queued.", dict(ASYNC_ACTION_LINKS)
                )
            },
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "Customer": CUSTOMER,
    "CustomersCreateRequestBody": CUSTOMER_CREATE,
    "CustomersUpdateRequestBody": CUSTOMER_UPDATE,
    "CustomersUpdateInBulkRequestBody": obj(
        {
            **CUSTOMER_FIELDS,
            "source_id": text(1000, min_length=1, description="Which customer." + INDEXED),
        },
        ["source_id"],
        closed=False,
        title="Customers Update In Bulk Request Body",
        description="One element of `POST /v1/customers/bulk/async`.",
    ),
    "CustomersMetadataUpdateInBulkRequestBody": obj(
        {
            "source_ids": array(text(1000, min_length=1, description=INDEXED.strip())),
            "metadata": metadata("Merged into each customer's metadata."),
        },
        ["source_ids", "metadata"],
        closed=False,
        title="Customers Metadata Update In Bulk Request Body",
    ),
    "CustomersListResponseBody": CUSTOMERS_LIST,
    "CustomersPermanentDeletionCreateResponseBody": PERMANENT_DELETION,
    "AsyncActionAccepted": ASYNC_ACTION_ACCEPTED,
}

"""Create / get / update / list / delete a customer with the official Voucherify
Python SDK (PyPI `voucherify` 6.1.1, openapi-generator, pydantic v2) against a
self-hosted server at http://127.0.0.1:8000.

    pip install voucherify==6.1.1
    X_APP_ID=… X_APP_TOKEN=… python examples/python_sdk.py

(VOUCHERIFY_HOST selects another server; the credentials are those `make run` prints.)

Checked against a throw-away local server.
"""
import os
import voucherify
from voucherify import (
    ApiClient, Configuration, CustomersApi,
    CustomersCreateRequestBody, CustomersUpdateRequestBody,
    ParameterOrderListCustomers,
)
from voucherify.exceptions import ApiException, NotFoundException

configuration = Configuration(
    # A non-None host makes server_index None, so every call goes to this base
    # URL. Paths are appended verbatim: "/v1/customers", ...
    host=os.getenv("VOUCHERIFY_HOST", "http://127.0.0.1:8000"),
    # Keys of this dict must be the exact header names (security scheme names).
    api_key={
        "X-App-Id": os.getenv("X_APP_ID", "test-app-id"),
        "X-App-Token": os.getenv("X_APP_TOKEN", "test-app-token"),
        # For client-side endpoints (ClientSideApi.*) add instead:
        # "X-Client-Application-Id": "...", "X-Client-Token": "...",
    },
)

with ApiClient(configuration) as api_client:
    # Every request also carries "X-Voucherify-Channel: Python-SDK" and
    # "User-Agent: OpenAPI-Python-SDK/6.1.1" (ApiClient.default_headers).
    customers = CustomersApi(api_client)

    # CREATE (upsert by source_id). Response type: CustomersCreateResponseBody
    created = customers.create_customer(
        customers_create_request_body=CustomersCreateRequestBody(
            source_id="sdk-demo-1",
            name="Bob Smith",
            email="bob@example.com",
            metadata={"lang": "en"},
            address={"city": "New York", "country": "United States"},
            birthdate="1990-01-31",
        )
    )
    print("created:", created.id, created.source_id, created.object)

    # GET by id or by source_id. Response type: CustomersGetResponseBody
    got = customers.get_customer(customer_id=created.id)
    got_by_source = customers.get_customer(customer_id="sdk-demo-1")
    assert got.id == got_by_source.id
    print("got:", got.name, got.summary.orders.total_amount if got.summary else None)

    # UPDATE (PUT = partial merge of supplied fields). CustomersUpdateResponseBody
    updated = customers.update_customer(
        customer_id=created.id,
        customers_update_request_body=CustomersUpdateRequestBody(
            name="Robert Smith", metadata={"lang": "pl"}
        ),
    )
    print("updated:", updated.name, updated.metadata)

    # LIST. CustomersListResponseBody -> .customers / .total / .has_more
    page = customers.list_customers(
        limit=10, page=1, email="bob@example.com",
        order=ParameterOrderListCustomers.MINUS_CREATED_AT,  # enum, not a str
    )
    print("listed:", page.total, [c.id for c in page.customers or []])

    # DELETE -> 204 No Content, returns None
    customers.delete_customer(customer_id=created.id)
    try:
        customers.get_customer(customer_id=created.id)
    except NotFoundException as e:  # subclass of ApiException
        # Non-2XX bodies are NOT deserialized: e.data is None, e.body is raw JSON text.
        print("after delete:", e.status, e.body)
    except ApiException as e:
        print("unexpected:", e.status, e.body)

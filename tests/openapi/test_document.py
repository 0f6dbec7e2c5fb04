"""The OpenAPI document: served, loadable, and describing exactly the routes Patron serves."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import msgspec
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.core.result import Err

from patron.app import create_app
from patron.config import Settings
from patron.customers.schemas import EMAIL_PATTERN, CustomerCreate, check_fields
from patron.errors import InvalidPayload
from patron.openapi import document
from patron.orders.schemas import CREATED_AT_PATTERN, OrderCreate, check_order

_PARAMETER = re.compile(r"\{[^}]*\}")
_METHODS = {"get", "put", "post", "delete", "patch"}


def _served() -> set[tuple[str, str]]:
    app = create_app(Settings(), "postgresql://unused")
    return {
        (method.lower(), _PARAMETER.sub("{}", route.path))
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method.lower() in _METHODS
    }


def _described() -> set[tuple[str, str]]:
    return {
        (method, _PARAMETER.sub("{}", path))
        for path, item in document()["paths"].items()
        for method in item
        if method in _METHODS
    }


class TestDocument:
    def test_describes_every_route_served(self) -> None:
        missing = _served() - _described()
        assert not missing, f"routes served but not described in src/patron/openapi/: {missing}"

    def test_describes_only_routes_served(self) -> None:
        assert _described() - _served() == set()

    def test_operation_ids_are_unique(self) -> None:
        ids = [
            operation["operationId"]
            for item in document()["paths"].values()
            for method, operation in item.items()
            if method in _METHODS
        ]
        assert len(ids) == len(set(ids))

    def test_every_operation_loads_in_schemathesis(self) -> None:
        schema = schemathesis.openapi.from_dict(document())
        operations = list(schema.get_all_operations())
        assert len(operations) == len(_described())
        errors = [result.err() for result in operations if isinstance(result, Err)]
        assert not errors


class TestServed:
    def test_without_credentials(self, anonymous_http: httpx.Client) -> None:
        response = anonymous_http.get("/openapi.json")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == document()

    def test_server_routes_still_need_credentials(self, anonymous_http: httpx.Client) -> None:
        assert anonymous_http.get("/v1/customers").status_code == 401


class TestPatterns:
    """The patterns the document states are the rules the server applies."""

    @given(st.from_regex(CREATED_AT_PATTERN, fullmatch=True))
    def test_every_order_date_the_pattern_admits_is_accepted(self, text: str) -> None:
        order = msgspec.json.decode(msgspec.json.encode({"created_at": text}), type=OrderCreate)
        check_order(order)

    @given(
        st.datetimes(
            timezones=st.none()
            | st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
                lambda minutes: timezone(timedelta(minutes=minutes))
            )
        )
    )
    def test_every_order_date_the_server_accepts_matches(self, moment: datetime) -> None:
        order = OrderCreate(created_at=moment)
        try:
            check_order(order)
        except InvalidPayload:
            return
        assert re.fullmatch(CREATED_AT_PATTERN, moment.isoformat())

    @given(st.from_regex(EMAIL_PATTERN, fullmatch=True).filter(lambda text: len(text) <= 254))
    def test_every_email_the_pattern_admits_is_accepted(self, email: str) -> None:
        check_fields(CustomerCreate(email=email))

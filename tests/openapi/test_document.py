"""The OpenAPI document: served, loadable, and describing exactly the routes Patron serves."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from litestar import Controller, Litestar, get, post
from litestar.params import FromPath
from litestar.routes import BaseRoute
from schemathesis.core.result import Err

from patron.app import create_app
from patron.app import openapi_document as document
from patron.config import Settings
from patron.customers.schemas import EMAIL_PATTERN, CustomerCreate, check_fields
from patron.errors import InvalidPayload, InvalidQueryParams
from patron.kit import query
from patron.openapi.document import UndescribedRoute, build, served
from patron.openapi.operation import Link, PathParameter, operation
from patron.orders.schemas import CREATED_AT_PATTERN, OrderCreate, check_order

_PARAMETER = re.compile(r"\{[^}]*\}")
_METHODS = {"get", "put", "post", "delete", "patch"}


def _app() -> Litestar:
    return create_app(Settings(), "postgresql://unused")


def _served() -> set[tuple[str, str]]:
    app = _app()
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


def _bare(*handlers: Any) -> Sequence[BaseRoute]:
    """The routes of an app serving only `handlers` (no Litestar schema routes)."""
    return Litestar(list(handlers), openapi_config=None).routes


class Thing(msgspec.Struct, forbid_unknown_fields=True):
    """A thing."""

    id: str


class TestDescribedByTheRoutes:
    """The document is built from the routes' own `@operation`s, and refuses a gap."""

    def test_a_route_without_an_operation_is_refused(self) -> None:
        @get("/v1/things")
        async def list_things() -> None:
            """List things."""

        with pytest.raises(UndescribedRoute, match="GET /v1/things"):
            build(_bare(list_things))

    def test_a_route_without_a_docstring_is_refused(self) -> None:
        @operation("get-thing", "Things", response=Thing)
        @get("/v1/thing")
        async def get_thing() -> None:
            pass

        with pytest.raises(UndescribedRoute, match="no docstring"):
            build(_bare(get_thing))

    def test_an_unnamed_path_parameter_is_refused(self) -> None:
        @operation("get-thing", "Things", response=Thing)
        @get("/v1/things/{thing_id:str}")
        async def get_thing(thing_id: FromPath[str]) -> None:
            """Get a thing."""

        with pytest.raises(UndescribedRoute, match="thing_id"):
            build(_bare(get_thing))

    def test_a_link_to_an_operation_not_served_is_refused(self) -> None:
        @operation(
            "create-thing",
            "Things",
            body=Thing,
            response=Thing,
            links={"Get": Link("get-thing", "Read it.", {"thingId": "$response.body#/id"})},
        )
        @post("/v1/things")
        async def create_thing() -> None:
            """Create a thing."""

        with pytest.raises(UndescribedRoute, match="get-thing"):
            build(_bare(create_thing))

    def test_a_controllers_routes_are_described_from_their_types(self) -> None:
        class Things(Controller):
            path = "/v1/things"

            @operation(
                "get-thing",
                "Things",
                path={"thing_id": PathParameter("thingId", "The thing's id.")},
                query=(query.limit(),),
                response=Thing,
                errors=("NotFound",),
            )
            @get("/{thing_id:str}")
            async def get_thing(self, thing_id: FromPath[str]) -> None:
                """Get a thing."""

        @operation("create-thing", "Things", body=Thing, response=Thing)
        @post(["/v1/things", "/client/v1/things"], status_code=200)
        async def create_thing() -> None:
            """Create a thing."""

        built = build(_bare(Things, create_thing))
        get_thing = built["paths"]["/v1/things/{thingId}"]["get"]
        assert get_thing["summary"] == "Get a thing."
        assert [p["name"] for p in get_thing["parameters"]] == ["thingId", "limit"]
        assert sorted(get_thing["responses"]) == ["200", "401", "404"]
        assert get_thing["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Thing"
        }
        assert built["components"]["schemas"]["Thing"]["additionalProperties"] is False
        assert built["paths"]["/v1/things"]["post"]["operationId"] == "create-thing"
        client = built["paths"]["/client/v1/things"]["post"]
        assert client["operationId"] == "create-thing-client-side"
        assert client["parameters"][0]["name"] == "origin"
        assert "403" in client["responses"]
        assert "413" in client["responses"]

    def test_every_served_route_has_its_operation(self) -> None:
        ids = {one.operation_id for one in served(_app().routes)}
        assert len(ids) == len(_served())


class TestQueryParametersDeclared:
    """A declared query parameter accepts exactly what its document schema admits."""

    LIMIT = query.limit()

    @given(st.integers(-(10**6), 10**6))
    def test_an_integer_within_the_stated_bounds_is_read(self, value: int) -> None:
        schema = self.LIMIT.openapi()["schema"]
        admitted = schema["minimum"] <= value <= schema["maximum"]
        try:
            assert self.LIMIT.parse({"limit": str(value)}) == value
        except InvalidQueryParams:
            assert not admitted
        else:
            assert admitted

    def test_a_choice_states_every_value_it_takes(self) -> None:
        order = query.Choice("order", "Sort order.", ("b", "a"))
        assert order.openapi()["schema"]["enum"] == ["a", "b"]
        assert order.parse({"order": "a"}) == "a"
        with pytest.raises(InvalidQueryParams):
            order.parse({"order": "c"})


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


class TestEventBody:
    def test_referral_and_loyalty_require_their_code_as_the_server_does(self) -> None:
        # msgspec drops a Meta on a struct's reference inside a union; the fuzzer found the
        # document allowing `{"loyalty": {}}`, which the server refuses.
        properties = document()["components"]["schemas"]["EventCreate"]["properties"]
        for name in ("referral", "loyalty"):
            assert properties[name]["required"] == ["code"], properties[name]

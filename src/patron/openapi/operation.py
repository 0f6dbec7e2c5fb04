"""What a route says about itself in the OpenAPI document, attached to the route by `@operation`.

    @operation("get-customer", "Customers", path={"customer_id": CUSTOMER_ID},
               response=CustomerObject, errors=("NotFound",), links=CUSTOMER_LINKS)
    @get("/{customer_id:str}")
    async def get_customer(...) -> ASGIApp:
        \"\"\"Get a customer by `id` or `source_id`.\"\"\"   # the operation's summary

The request body and response are the msgspec types the route decodes into and whose shape it
renders; their JSON Schema comes from msgspec (`patron.openapi.document`), so a route is
described by its types and this one decorator, and nothing else is kept by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from litestar.handlers import HTTPRouteHandler

from patron.kit.query import Parameter

OPT_KEY = "openapi_operation"

Handler = TypeVar("Handler", bound=HTTPRouteHandler)


@dataclass(frozen=True)
class PathParameter:
    """A path parameter as the document names it (Voucherify's `customerId`) and explains it."""

    name: str
    description: str

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": "path",
            "required": True,
            "description": self.description,
            "schema": {"type": "string", "minLength": 1},
        }


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: what a response gives the next call (followed by stateful fuzzers)."""

    operation_id: str
    description: str
    parameters: Mapping[str, str]

    def openapi(self) -> dict[str, Any]:
        return {
            "operationId": self.operation_id,
            "description": self.description,
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True)
class FileUpload:
    """A `multipart/form-data` body with one file field (not JSON, so not a msgspec type)."""

    field: str
    media_type: str
    description: str


@dataclass(frozen=True)
class Content:
    """A success body that is not JSON: one of `media_types` (the first by default), sent with
    the `Cache-Control` header `cache_control`."""

    media_types: tuple[str, ...]
    cache_control: str

    def openapi(self, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "headers": {
                "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
                "Cache-Control": {
                    "description": "How long the body may be kept.",
                    "schema": {"type": "string", "enum": [self.cache_control]},
                },
            },
            "content": {
                media_type: {"schema": {"type": "string", "contentMediaType": media_type}}
                for media_type in self.media_types
            },
        }


@dataclass(frozen=True)
class Image(Content):
    """A success body that is an image: a voucher's QR code or barcode."""


@dataclass(frozen=True)
class Operation:
    """One operation of the document; see the module's docstring.

    `body` is the msgspec type the route decodes its JSON body into (or a `FileUpload`);
    `response` is the type of its success body (None: no content; an `Image`: not JSON); the
    status is the route's own `status_code`. `errors` names the responses in
    `components.responses` the operation can give beyond those of every operation of its kind
    (credentials, and bodies when it takes one).
    A handler served under `/client/` too is a second operation there, with client credentials
    and the `origin` header, whose id ends in `-client-side`. `public`: no credentials at all.
    """

    operation_id: str
    tag: str
    response: Any = None
    response_description: str = "The result."
    body: Any = None
    body_description: str = "The request body."
    query: tuple[Parameter, ...] = ()
    path: Mapping[str, PathParameter] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    links: Mapping[str, Link] = field(default_factory=dict)
    description: str | None = None
    public: bool = False
    deprecated: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Operation:
        # Litestar deep-copies a controller's handlers, options included; an Operation is
        # immutable, and the msgspec types it names (`Meta` in them) cannot be copied.
        return self


def operation(operation_id: str, tag: str, **details: Any) -> Callable[[Handler], Handler]:
    """Describe the route handler below it (a Litestar `@get`, `@post`, …) in the document."""
    described = Operation(operation_id, tag, **details)

    def attach(handler: Handler) -> Handler:
        handler.opt[OPT_KEY] = described
        return handler

    return attach


def operation_of(handler: HTTPRouteHandler) -> Operation | None:
    found = handler.opt.get(OPT_KEY)
    return found if isinstance(found, Operation) else None

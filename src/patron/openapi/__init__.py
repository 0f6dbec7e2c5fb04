"""Patron's OpenAPI document, served at `/openapi.json`: every endpoint, as Patron serves it.

Each route carries its description (`patron.openapi.operation`: `@operation` with its body and
response types, query parameters and errors) and `patron.openapi.document` builds the document
by walking the app's routes, deriving schemas from the routes' msgspec types.
`tests/openapi/` checks that every route is described, validates real responses against the
document, and fuzzes the live server against it (schemathesis).
"""

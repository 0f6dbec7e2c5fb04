"""What is served outside the API: the health check and this document."""

from __future__ import annotations

from patron.openapi.common import Schema, errors, exact, json_response, string

TAG = "System"

PATHS: dict[str, Schema] = {
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Health",
            "description": "200 once the database answers and carries the newest migration;"
            " no credentials needed.",
            "tags": [TAG],
            "security": [],
            "responses": {
                "200": json_response(
                    exact(
                        {"status": {"type": "string", "enum": ["ok"]}, "schema_revision": string()}
                    ),
                    "Ready.",
                ),
                **errors("ServiceUnavailable"),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "OpenAPI document",
            "description": "This document; no credentials needed.",
            "tags": [TAG],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document of every endpoint Patron serves.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}

SCHEMAS: dict[str, Schema] = {}

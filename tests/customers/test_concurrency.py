"""Concurrent writes: one customer per source_id, and never a customer mixing two bodies."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers
from tests.factories import create_customer, unique

Request = tuple[str, str, dict[str, Any] | None]


async def _all_at_once(
    server: RunningServer, project: Credentials, requests: list[Request]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=auth_headers(project), limits=limits, timeout=60
    ) as client:
        return await asyncio.gather(
            *(client.request(method, path, json=body) for method, path, body in requests)
        )


class TestConcurrentUpserts:
    def test_64_posts_of_one_new_source_id_make_one_customer(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        source_id = unique()
        requests: list[Request] = [
            ("POST", "/v1/customers", {"source_id": source_id, "name": f"n{n}"}) for n in range(64)
        ]
        responses = asyncio.run(_all_at_once(server, project, requests))
        assert [r.status_code for r in responses] == [200] * 64
        assert len({r.json()["id"] for r in responses}) == 1
        assert http.get("/v1/customers").json()["total"] == 1
        assert (
            server.db.fetchval(
                "SELECT count(*) FROM customers WHERE project_id = $1", project.project_id
            )
            == 1
        )
        types = server.db.fetch(
            "SELECT type FROM customer_activities WHERE project_id = $1", project.project_id
        )
        assert sum(1 for t in types if t["type"] == "customer.created") == 1

    def test_concurrent_puts_never_mix_two_bodies(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        customer = create_customer(http)
        bodies = [
            {
                "name": "Alpha",
                "email": "alpha@example.com",
                "phone": "111",
                "metadata": {"who": "alpha"},
            },
            {
                "name": "Beta",
                "email": "beta@example.com",
                "phone": "222",
                "metadata": {"who": "beta"},
            },
        ]
        path = f"/v1/customers/{customer['id']}"
        requests: list[Request] = [("PUT", path, bodies[n % 2]) for n in range(64)]
        responses = asyncio.run(_all_at_once(server, project, requests))
        assert {r.status_code for r in responses} == {200}

        def fields(c: dict[str, Any]) -> dict[str, Any]:
            return {k: c[k] for k in ("name", "email", "phone", "metadata")}

        final = http.get(path).json()
        assert fields(final) in bodies
        for response in responses:
            assert fields(response.json()) in bodies
        snapshots = server.db.fetch(
            "SELECT data FROM customer_activities WHERE customer_id = $1 AND type = $2",
            customer["id"],
            "customer.updated",
        )
        assert snapshots
        for row in snapshots:
            assert fields(row["data"]["customer"]) in bodies


class TestConcurrentCreateAndDelete:
    def test_mixed_creates_and_deletes_of_one_source_id_never_fail(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        for round_ in range(10):
            source_id = f"mixed-{round_}"
            requests: list[Request] = [
                ("POST", "/v1/customers", {"source_id": source_id}) for _ in range(8)
            ]
            requests += [("DELETE", f"/v1/customers/{source_id}", None) for _ in range(4)]
            requests += [("POST", f"/v1/customers/{source_id}/permanent-deletion", None)]
            responses = asyncio.run(_all_at_once(server, project, requests))
            assert {r.status_code for r in responses} <= {200, 204, 404}, [
                r.text for r in responses if r.status_code >= 500
            ]
        live = http.get("/v1/customers").json()["total"]
        assert live == server.db.fetchval(
            "SELECT count(*) FROM customers WHERE project_id = $1 AND deleted_at IS NULL",
            project.project_id,
        )

"""Credentials open exactly one project's data."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import NotFoundException, UnauthorizedException

from patron.db.pool import connect
from patron.projects import service as projects
from patron.projects.service import Credentials
from tests.conftest import Database, RunningServer, auth_headers, run, sdk_client
from tests.events.test_routes import make_client_key
from tests.factories import create_customer

UNAUTHORIZED = {"code": 401, "key": "unauthorized", "message": "Unauthorized"}


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"X-App-Id": "x"}, {"X-App-Token": "y"}, {"X-App-Id": "nope", "X-App-Token": "nope"}],
    )
    def test_missing_or_wrong_credentials(
        self, anonymous_http: httpx.Client, headers: dict[str, str]
    ) -> None:
        for method, path in (
            ("GET", "/v1/customers"),
            ("POST", "/v1/customers"),
            ("GET", "/v1/customers/x/activity"),
            ("GET", "/v1/no-such-route"),
            ("PATCH", "/v1/customers"),
        ):
            response = anonymous_http.request(method, path, headers=headers, json={})
            assert response.status_code == 401
            body = response.json()
            assert {k: body[k] for k in UNAUTHORIZED} == UNAUTHORIZED
            assert body["request_id"] == response.headers["x-request-id"]

    def test_right_id_wrong_token(self, anonymous_http: httpx.Client, project: Credentials) -> None:
        headers = {"X-App-Id": project.app_id, "X-App-Token": project.app_token + "x"}
        assert anonymous_http.get("/v1/customers", headers=headers).status_code == 401

    def test_sdk_sees_unauthorized(self, server: RunningServer, project: Credentials) -> None:
        wrong = Credentials(project.project_id, project.name, project.app_id, "wrong")
        with sdk_client(server, wrong) as client, pytest.raises(UnauthorizedException):
            voucherify.CustomersApi(client).list_customers()

    def test_health_needs_no_credentials(self, anonymous_http: httpx.Client) -> None:
        response = anonymous_http.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    def test_tokens_are_stored_only_as_hashes(
        self, server: RunningServer, project: Credentials
    ) -> None:
        stored = server.db.fetchval(
            "SELECT app_token_hash FROM projects WHERE id = $1", project.project_id
        )
        assert project.app_token.encode() not in bytes(stored)
        assert len(stored) == 32


class TestTenantIsolation:
    def test_another_projects_customer_does_not_exist(
        self, http: httpx.Client, server: RunningServer, another_project: Credentials
    ) -> None:
        mine = create_customer(http, email="mine@example.com")
        with httpx.Client(base_url=server.base_url, headers=auth_headers(another_project)) as other:
            for key in (mine["id"], mine["source_id"]):
                assert other.get(f"/v1/customers/{key}").status_code == 404
                assert other.put(f"/v1/customers/{key}", json={"name": "x"}).status_code == 404
                assert other.get(f"/v1/customers/{key}/activity").status_code == 404
                assert other.get(f"/v1/customers/{key}/activities").status_code == 404
                assert other.delete(f"/v1/customers/{key}").status_code == 404
                assert other.post(f"/v1/customers/{key}/permanent-deletion").status_code == 404
            assert other.get("/v1/customers").json()["total"] == 0
            assert (
                other.get("/v1/customers", params={"email": "mine@example.com"}).json()["customers"]
                == []
            )
            # The same source_id is a different customer in another project.
            theirs = other.post("/v1/customers", json={"source_id": mine["source_id"]}).json()
            assert theirs["id"] != mine["id"]
            assert other.post("/v1/customers", json={"id": mine["id"]}).status_code == 404
        assert http.get(f"/v1/customers/{mine['id']}").json()["name"] == "Bob Smith"

    def test_sdk_in_another_project(
        self, http: httpx.Client, server: RunningServer, another_project: Credentials
    ) -> None:
        mine = create_customer(http)
        with sdk_client(server, another_project) as client:
            api: Any = voucherify.CustomersApi(client)
            with pytest.raises(NotFoundException):
                api.get_customer(customer_id=mine["id"])


def poll_status(client: httpx.Client, path: str, headers: dict[str, str], status: int) -> int:
    """The status of GET `path`, asked again for up to 2 s until it is `status` (time for a
    notification to be delivered, not for a cached entry to expire: that takes 30 s)."""
    deadline = time.monotonic() + 2
    while True:
        answered = client.get(path, headers=headers).status_code
        if answered == status or time.monotonic() > deadline:
            return answered
        time.sleep(0.02)


def in_transaction(db: Database, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """`work(conn)` in a transaction of its own, committed (as `patron projects …` does)."""

    async def main() -> Any:
        conn = await connect(db.dsn)
        try:
            async with conn.transaction():
                return await work(conn)
        finally:
            await conn.close()

    return run(main())


class TestCredentialChangesReachRunningServers:
    def test_a_rotated_token_is_refused_at_once(
        self, anonymous_http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        old = auth_headers(project)
        assert anonymous_http.get("/v1/customers", headers=old).status_code == 200  # cached
        rotated: Credentials = in_transaction(
            server.db, lambda conn: projects.rotate_token(conn, project.app_id)
        )
        assert rotated.app_token != project.app_token
        assert poll_status(anonymous_http, "/v1/customers", old, 401) == 401
        assert anonymous_http.get("/v1/customers", headers=auth_headers(rotated)).status_code == 200
        assert anonymous_http.get("/v1/customers", headers=old).status_code == 401

    def test_a_rotation_rolled_back_changes_nothing(
        self, anonymous_http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        headers = auth_headers(project)
        assert anonymous_http.get("/v1/customers", headers=headers).status_code == 200

        async def rotate_and_roll_back(conn: Any) -> None:
            await projects.rotate_token(conn, project.project_id)
            raise LookupError("changed my mind")

        with pytest.raises(LookupError):
            in_transaction(server.db, rotate_and_roll_back)
        assert anonymous_http.get("/v1/customers", headers=headers).status_code == 200

    def test_a_deleted_client_key_is_refused_at_once(
        self, anonymous_http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        key = make_client_key(server.db, project)
        assert anonymous_http.get("/client/v1/consents", headers=key.headers()).status_code == 200
        in_transaction(server.db, lambda conn: projects.delete_client_key(conn, key.key_id))
        assert poll_status(anonymous_http, "/client/v1/consents", key.headers(), 401) == 401
        with pytest.raises(projects.UnknownClientKey):
            in_transaction(server.db, lambda conn: projects.delete_client_key(conn, key.key_id))

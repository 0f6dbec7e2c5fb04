"""Secrets and personal data: no token is stored or logged in plain text; no e-mail, name or
phone reaches a log line, on success or on any error path."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from patron.activities import service as activities
from patron.kit.logs import LINE_FORMAT, Formatter
from patron.projects import service as projects
from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, create_project
from tests.events.test_routes import ORIGIN, make_client_key

# The test's own HTTP client logs the URLs it calls; those lines are not the server's.
CLIENT_LOGGERS = ("httpx", "httpcore")


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """Every line the server logs during the test, at every level, formatted as `patron serve`
    formats it (the server runs in this process)."""
    lines: list[str] = []
    formatter = Formatter(LINE_FORMAT)

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith(CLIENT_LOGGERS):
                lines.append(formatter.format(record))

    handler = Capture(level=logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _person() -> dict[str, str]:
    tag = secrets.token_hex(5)
    return {
        "email": f"zelda.{tag}@example.com",
        "name": f"Zelda Quux{tag}",
        "phone": f"+48 600 {int(tag, 16) % 1000:03d} {tag[:3]}",
    }


def _leaks(lines: list[str], values: list[str]) -> list[tuple[str, str]]:
    return [(value, line) for line in lines for value in values if value in line]


class TestPersonalDataInLogs:
    def test_no_email_name_or_phone_in_any_line(
        self,
        server: RunningServer,
        http: httpx.Client,
        project: Credentials,
        server_log: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        person = _person()
        email, name, phone = person["email"], person["name"], person["phone"]
        at_email = quote(email, safe="")
        customer = {"source_id": email, **person, "address": {"city": name}}

        # Successes (logged at DEBUG), reads by source_id, filters carrying the values.
        assert http.post("/v1/customers", json=customer).status_code == 200
        assert http.get(f"/v1/customers/{at_email}").status_code == 200
        listed = http.get("/v1/customers", params={"email": email, "name": name, "city": name})
        assert listed.status_code == 200
        assert http.get(f"/v1/customers/{at_email}/activity").status_code == 200
        event = {"event": "viewed", "customer": customer, "metadata": {"phone": phone}}
        assert http.post("/v1/events", json=event).status_code == 200
        order = {"amount": 100, "status": "PAID", "customer": customer}
        assert http.post("/v1/orders", json=order).status_code == 200
        key = make_client_key(server.db, project)
        client_event = httpx.post(
            f"{server.base_url}/client/v1/events",
            json=event,
            headers={**key.headers(ORIGIN)},
            timeout=30,
        )
        assert client_event.status_code == 200

        # 404s with the values in the path or body.
        missing = quote(f"x{email}", safe="")
        assert http.get(f"/v1/customers/{missing}").status_code == 404
        assert http.put(f"/v1/customers/{missing}", json=person).status_code == 404
        assert http.get(f"/v1/orders/{missing}").status_code == 404
        consents = http.put(f"/v1/customers/{missing}/consents", json={"unsubscribed": True})
        assert consents.status_code == 404
        assert http.get(f"/v1/nothing/{at_email}").status_code == 404
        # 400s naming the values.
        assert http.post("/v1/customers", json={"email": f"{name} {email}"}).status_code == 400
        assert http.post("/v1/customers", json={"phone": 5, "name": name}).status_code == 400
        bad_json = f'{{"email": "{email}", "name": "{name}"'
        response = http.post(
            "/v1/customers", content=bad_json, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert http.get("/v1/customers", params={"email": email, "limit": name}).status_code == 400
        assert http.put(f"/v1/customers/{at_email}/consents", json={email: True}).status_code == 400
        # Async work: a bulk update with a bad row, and a CSV import.
        rows = [
            {"source_id": f"{email}.bulk", "name": name, "phone": phone},
            {"source_id": f"{email}.bad", "email": name},
        ]
        bulk = http.post("/v1/customers/bulk/async", json=rows)
        assert wait_done(http, bulk.json()["async_action_id"])["status"] == "DONE"
        csv = f"Source_id,Name,Email,Phone\n{email}.csv,{name},{email},{phone}\n,{name},x,{phone}\n"
        imported = http.post("/v1/customers/importCSV", files={"file": ("c.csv", csv.encode())})
        assert wait_done(http, imported.json()["async_action_id"])["status"] == "DONE"

        # An unexpected failure whose exception quotes the values: a 500, logged without them.
        def broken_prepare(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"Key (source_id)=({email}) {name} {phone} already exists")

        monkeypatch.setattr(activities, "prepare", broken_prepare)
        failed = http.put(f"/v1/customers/{at_email}", json={"name": f"{name} II"})
        assert failed.status_code == 500
        monkeypatch.undo()

        assert http.post(f"/v1/customers/{at_email}/permanent-deletion").status_code == 200

        assert server_log, "the server logged nothing: the capture is broken"
        assert any(failed.headers["x-request-id"] in line for line in server_log)
        assert any("message withheld" in line for line in server_log)
        values = [email, name, phone, email.split("@")[0], quote(email, safe="")]
        assert _leaks(server_log, values) == []


class TestTokens:
    def _use(self, server: RunningServer, owner: Credentials, other: Credentials) -> list[str]:
        """Requests with good and wrong tokens; returns every token sent."""
        key = make_client_key(server.db, owner)
        wrong = secrets.token_urlsafe(32)
        calls = [
            ("GET", "/v1/customers", auth_headers(owner)),
            ("POST", "/v1/events", auth_headers(owner)),
            ("GET", "/v1/customers", {"X-App-Id": owner.app_id, "X-App-Token": wrong}),
            ("GET", "/v1/customers", {"X-App-Id": owner.app_id, "X-App-Token": other.app_token}),
            ("GET", "/v1/customers", {"X-App-Id": "nobody", "X-App-Token": owner.app_token}),
            ("POST", "/client/v1/events", key.headers(ORIGIN)),
            ("GET", "/client/v1/consents", {**key.headers(ORIGIN), "X-Client-Token": wrong}),
            ("GET", "/v1/customers", key.headers(ORIGIN)),
        ]
        event = {"event": "seen", "customer": {"source_id": "token-user"}}
        for method, path, headers in calls:
            body = event if method == "POST" else None
            response = httpx.request(
                method, server.base_url + path, headers=headers, json=body, timeout=30
            )
            assert response.status_code in (200, 401), (path, response.text)
        return [owner.app_token, other.app_token, key.token, wrong]

    def test_no_token_in_any_log_line(
        self, server: RunningServer, project: Credentials, server_log: list[str]
    ) -> None:
        tokens = self._use(server, project, create_project(server.db, "other"))
        assert server_log
        assert _leaks(server_log, tokens) == []

    def test_no_token_in_any_column_of_any_table(
        self, server: RunningServer, project: Credentials
    ) -> None:
        tokens = self._use(server, project, create_project(server.db, "other"))
        columns = server.db.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        assert {row["table_name"] for row in columns} >= {"projects", "client_keys", "customers"}
        # Every column, whatever its type, as text; bytea as hex, so search the hex too.
        needles = [*tokens, *(token.encode().hex() for token in tokens)]
        found = []
        for row in columns:
            table, column = row["table_name"], row["column_name"]
            hits = server.db.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE ANY($1::text[])',
                [f"%{needle}%" for needle in needles],
            )
            if hits:
                found.append((table, column))
        assert found == []

    def test_tokens_are_stored_as_their_hashes(
        self, server: RunningServer, project: Credentials
    ) -> None:
        stored = server.db.fetchval(
            "SELECT app_token_hash FROM projects WHERE id = $1", project.project_id
        )
        assert bytes(stored) == projects.hash_token(project.app_token)


class TestConstantTimeComparison:
    def test_every_decision_on_a_token_is_a_constant_time_comparison(
        self, server: RunningServer, project: Credentials, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        compared: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def spy(a: bytes, b: bytes) -> bool:
            compared.append((a, b))
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        key = make_client_key(server.db, project)
        calls = [
            ("/v1/customers", auth_headers(project), 200),
            ("/v1/customers", {"X-App-Id": project.app_id, "X-App-Token": "wrong"}, 401),
            ("/v1/customers", {"X-App-Id": "unknown", "X-App-Token": "wrong"}, 401),
            ("/client/v1/consents", key.headers(ORIGIN), 200),
            ("/client/v1/consents", {**key.headers(ORIGIN), "X-Client-Token": "wrong"}, 401),
            ("/client/v1/consents", {**key.headers(ORIGIN), "X-Client-Application-Id": "x"}, 401),
        ]
        for path, headers, status in calls:
            before = len(compared)
            response = httpx.get(server.base_url + path, headers=headers, timeout=30)
            assert response.status_code == status, (path, response.text)
            assert len(compared) == before + 1, path
        # Hashes are compared, never tokens: no token's length or prefix can show in the time.
        assert all(len(a) == len(b) == 32 for a, b in compared)

"""`patron serve` and `patron projects` as an operator runs them: real processes, real signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Database, RunningServer, create_project, repo_root

PATRON = [sys.executable, "-m", "patron"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env.update({"PATRON_DATA_DIR": str(data_dir), "PATRON_LOG_LEVEL": "WARNING", **extra})
    return env


def wait_healthy(base_url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"patron serve exited early: {process.communicate()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("patron serve did not become healthy")


def read_credentials(text: str) -> dict[str, str]:
    app_id = re.search(r"X-App-Id:\s+(\S+)", text)
    token = re.search(r"X-App-Token:\s+(\S+)", text)
    assert app_id, text
    assert token, text
    return {"X-App-Id": app_id.group(1), "X-App-Token": token.group(1)}


class Serve:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*PATRON, "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=repo_root(),
        )

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return out, err


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Serve, Path]]:
    data_dir = tmp_path / "data"
    serve = Serve(env_for(data_dir))
    try:
        wait_healthy(serve.base_url, serve.process)
        yield serve, data_dir
    finally:
        serve.stop()


def postgres_running(data_dir: Path) -> bool:
    return (data_dir / "pg" / "postmaster.pid").exists()


class TestServeEmbedded:
    def test_first_start_creates_a_project_and_serves_it(self, serving: tuple[Serve, Path]) -> None:
        serve, data_dir = serving
        assert postgres_running(data_dir)
        assert not (data_dir / "pg" / "postgresql.conf").read_text().count("listen_addresses = '*'")
        out, _ = serve.stop()
        assert serve.process.returncode == 0
        assert not postgres_running(data_dir)
        headers = read_credentials(out)

        again = Serve(env_for(data_dir))
        try:
            wait_healthy(again.base_url, again.process)
            created = httpx.post(
                f"{again.base_url}/v1/customers", headers=headers, json={"source_id": "kept"}
            )
            assert created.status_code == 200
        finally:
            out, _ = again.stop()
        assert "Created a first project" not in out

    def test_a_second_serve_on_the_same_folder_fails_clearly(
        self, serving: tuple[Serve, Path]
    ) -> None:
        serve, data_dir = serving
        second = Serve(env_for(data_dir))
        _, err = second.process.communicate(timeout=60)
        assert second.process.returncode == 2
        assert "in use by another Patron process" in err
        assert httpx.get(f"{serve.base_url}/health").status_code == 200

    def test_projects_create_beside_a_running_server(self, serving: tuple[Serve, Path]) -> None:
        serve, data_dir = serving
        result = subprocess.run(
            [*PATRON, "projects", "create", "shop"],
            env=env_for(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        headers = read_credentials(result.stdout)
        response = httpx.get(f"{serve.base_url}/v1/customers", headers=headers)
        assert response.status_code == 200
        assert response.json()["total"] == 0

    def test_sigint_stops_postgres_too(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        serve = Serve(env_for(data_dir))
        wait_healthy(serve.base_url, serve.process)
        serve.process.send_signal(signal.SIGINT)
        serve.process.communicate(timeout=30)
        assert not postgres_running(data_dir)


class TestServeWithCredentialsAndExternalDatabase:
    def test_fixed_credentials_on_a_database_url(
        self, tmp_path: Path, server: RunningServer
    ) -> None:
        env = env_for(
            tmp_path / "unused",
            PATRON_DATABASE_URL=server.db.dsn,
            PATRON_APP_ID="fixed-app",
            PATRON_APP_TOKEN="fixed-token",
        )
        serve = Serve(env)
        try:
            wait_healthy(serve.base_url, serve.process)
            headers = {"X-App-Id": "fixed-app", "X-App-Token": "fixed-token"}
            assert httpx.get(f"{serve.base_url}/v1/customers", headers=headers).status_code == 200
        finally:
            serve.stop()
        assert not (tmp_path / "unused").exists()

    def test_half_the_credentials_is_an_error(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [*PATRON, "serve"],
            env=env_for(tmp_path, PATRON_APP_ID="only-id"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert "PATRON_APP_TOKEN" in result.stderr


class TestCustomersImportCommand:
    def test_imports_with_a_progress_bar(self, tmp_path: Path, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)
        csv_path = tmp_path / "people.csv"
        csv_path.write_text("Source_id,Name,Email\nu1,Ann,ann@example.com\nu2,Bob,nope\n")
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        result = subprocess.run(
            [*PATRON, "customers", "import", str(csv_path), "--project", credentials.app_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "100.0% 2/2 rows" in result.stderr
        assert "1 customer(s) imported successfully, 1 failed." in result.stdout
        assert "row 2:" in result.stdout
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == 1
        assert (
            fresh_database.fetchval(
                "SELECT count(*) FROM customer_activities WHERE type = 'customer.created'"
            )
            == 1
        )

    def test_unknown_project_or_bad_file(self, tmp_path: Path, fresh_database: Database) -> None:
        csv_path = tmp_path / "people.csv"
        csv_path.write_text("Name\nAnn\n")
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        unknown = subprocess.run(
            [*PATRON, "customers", "import", str(csv_path), "--project", "nope"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert unknown.returncode == 2
        assert "no project" in unknown.stderr
        credentials = create_project(fresh_database)
        bad = subprocess.run(
            [*PATRON, "customers", "import", str(csv_path), "--project", credentials.project_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bad.returncode == 2
        assert "Source_id" in bad.stderr


class TestRecountCommand:
    def test_finds_and_fixes_a_planted_difference(
        self, tmp_path: Path, fresh_database: Database
    ) -> None:
        credentials = create_project(fresh_database)
        fresh_database.fetch(
            "INSERT INTO customer_counts (project_id, slot, count) VALUES ($1, 5, 7)",
            credentials.project_id,
        )
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        result = subprocess.run(
            [*PATRON, "customers", "recount"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert f"{credentials.project_id}: stored 7, counted 0; fixed" in result.stdout
        assert (
            fresh_database.fetchval(
                "SELECT sum(count) FROM customer_counts WHERE project_id = $1",
                credentials.project_id,
            )
            == 0
        )


class TestSummariesCheck:
    def test_finds_and_repairs_a_planted_difference(
        self, tmp_path: Path, fresh_database: Database, server: RunningServer
    ) -> None:
        credentials = create_project(fresh_database)
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        serve = Serve(
            {**env, "PATRON_APP_ID": credentials.app_id, "PATRON_APP_TOKEN": credentials.app_token}
        )
        try:
            wait_healthy(serve.base_url, serve.process)
            headers = {"X-App-Id": credentials.app_id, "X-App-Token": credentials.app_token}
            for amount in (100, 250):
                response = httpx.post(
                    f"{serve.base_url}/v1/orders",
                    headers=headers,
                    json={"amount": amount, "status": "PAID", "customer": {"source_id": "s"}},
                )
                assert response.status_code == 200
        finally:
            serve.stop()

        def check(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*PATRON, "summaries", "check", *extra],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        clean = check()
        assert clean.returncode == 0, clean.stderr
        assert "0 customer(s) differ" in clean.stdout
        fresh_database.fetch("UPDATE customers SET orders_total_amount = 1 WHERE source_id = 's'")
        found = check()
        assert found.returncode == 1
        assert "stored 1/2" in found.stdout
        assert "orders say 350/2" in found.stdout
        fixed = check("--fix")
        assert fixed.returncode == 0
        assert "fixed" in fixed.stdout
        assert (
            fresh_database.fetchval(
                "SELECT orders_total_amount FROM customers WHERE source_id = 's'"
            )
            == 350
        )
        assert "0 customer(s) differ" in check().stdout


class TestClientKeyAndConsentCommands:
    def test_client_key_and_consents(self, tmp_path: Path, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)

        def patron(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*PATRON, *args], env=env, capture_output=True, text=True, timeout=120
            )

        key = patron(
            "projects",
            "client-key",
            credentials.app_id,
            "--origin",
            "https://Shop.example",
            "--name",
            "web",
        )
        assert key.returncode == 0, key.stderr
        key_id = re.search(r"X-Client-Application-Id:\s+(\S+)", key.stdout)
        assert key_id
        stored = fresh_database.fetch(
            "SELECT allowed_origins, token_hash FROM client_keys WHERE id = $1", key_id.group(1)
        )
        assert stored[0]["allowed_origins"] == ["shop.example"]
        token = re.search(r"X-Client-Token:\s+(\S+)", key.stdout)
        assert token
        assert token.group(1).encode() not in bytes(stored[0]["token_hash"])

        consent = patron(
            "consents",
            "create",
            "Newsletter",
            "--project",
            credentials.app_id,
            "--category",
            "marketing",
        )
        assert consent.returncode == 0, consent.stderr
        consent_id = consent.stdout.strip()
        assert consent_id.startswith("cnst_")
        group = patron(
            "consents",
            "group",
            "Marketing",
            "--project",
            credentials.project_id,
            "--consent",
            consent_id,
        )
        assert group.stdout.strip().startswith("cnstgr_")
        bad = patron(
            "consents", "group", "X", "--project", credentials.project_id, "--consent", "cnst_nope"
        )
        assert bad.returncode == 2
        assert "cnst_nope" in bad.stderr
        assert patron("projects", "client-key", "nope", "--origin", "x").returncode == 2


class TestDurability:
    def test_refuses_synchronous_commit_off_unless_allowed(
        self, tmp_path: Path, fresh_database: Database
    ) -> None:
        name = fresh_database.dsn.split("?")[0].rsplit("/", 1)[1]
        fresh_database.fetch(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        refused = subprocess.run(
            [*PATRON, "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "synchronous_commit=off" in refused.stderr
        assert "--allow-unsafe-durability" in refused.stderr
        serve = Serve({**env, "PATRON_ALLOW_UNSAFE_DURABILITY": "1"})
        try:
            wait_healthy(serve.base_url, serve.process)
        finally:
            serve.stop()


class TestContractExample:
    def test_the_python_sdk_example_runs_unchanged(
        self, server: RunningServer, tmp_path: Path
    ) -> None:
        credentials = create_project(server.db)
        env = {
            **os.environ,
            "VOUCHERIFY_HOST": server.base_url,
            "X_APP_ID": credentials.app_id,
            "X_APP_TOKEN": credentials.app_token,
        }
        result = subprocess.run(
            [sys.executable, str(repo_root() / "examples" / "python_sdk.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "after delete: 404" in result.stdout
        assert "unexpected" not in result.stdout
        assert "listed: 1" in result.stdout

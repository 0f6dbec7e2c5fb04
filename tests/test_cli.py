"""`patron serve` and `patron projects` as an operator runs them: real processes, real signals."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from patron.cli import CommandError, cli, pool_size_per_process
from patron.config import Settings, cores
from patron.projects.service import hash_token
from tests.conftest import Database, RunningServer, create_project, repo_root, run

PATRON = [sys.executable, "-m", "patron"]
# The console script `pip install` makes (pyproject's [project.scripts]), beside this Python.
PATRON_EXECUTABLE = str(Path(sys.executable).parent / "patron")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    # One server process unless a test asks for more (TestServeWorkers): the default, one per
    # core, would start processes that these tests do not look at, on a machine running tests.
    env.update(
        {
            "PATRON_DATA_DIR": str(data_dir),
            "PATRON_LOG_LEVEL": "WARNING",
            "PATRON_WORKERS": "1",
            **extra,
        }
    )
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
    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*PATRON, "serve", "--port", str(self.port), *args],
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


def server_processes(parent: int) -> list[int]:
    """The server processes uvicorn's supervisor started under `parent` (spawned children; the
    multiprocessing resource tracker, also a child, is left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # The fields after the command's name, which is in parentheses: state, ppid, ...
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == parent and state != "Z" and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def environment_of(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().partition("=")[::2] for pair in pairs if pair)


def process_holding(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server's end of the TCP connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def connection_to_each(port: int, pids: list[int]) -> dict[int, http.client.HTTPConnection]:
    """A kept-alive connection answered by each of the server processes `pids`. The kernel
    hands each new connection to whichever process accepts first; open them until every
    process has one, all opened within the last 2 seconds (uvicorn closes idle ones after 5)."""
    held: dict[int, tuple[float, http.client.HTTPConnection]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert connection.sock is not None
        pid = process_holding(port, connection.sock.getsockname()[1], pids)
        assert pid is not None
        if pid in held:
            held[pid][1].close()
        held[pid] = (time.monotonic(), connection)
        if len(held) == len(pids) and all(
            opened > time.monotonic() - 2 for opened, _ in held.values()
        ):
            return {pid: connection for pid, (_, connection) in held.items()}
        time.sleep(0.05)
    raise AssertionError(f"not every server process took a connection: {sorted(held)}")


class TestServeWorkers:
    def test_two_processes_share_the_port_the_database_and_the_client_rate_limit(
        self, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "data"
        env = env_for(
            data_dir,
            PATRON_APP_ID="app",
            PATRON_APP_TOKEN="token",
            PATRON_CLIENT_RATE_LIMIT="5",
            PATRON_CLIENT_RATE_SECONDS="5",
        )
        serve = Serve(env, "--workers", "2")
        try:
            wait_healthy(serve.base_url, serve.process)
            deadline = time.monotonic() + 60
            while len(servers := server_processes(serve.process.pid)) < 2:
                assert time.monotonic() < deadline, servers
                time.sleep(0.1)
            assert len(servers) == 2
            # Both were told the embedded PostgreSQL the parent started; neither started one.
            dsn = (data_dir / "database_url").read_text().strip()
            for pid in servers:
                assert environment_of(pid)["PATRON_DATABASE_URL"] == dsn
            key = subprocess.run(
                [*PATRON, "projects", "client-key", "app", "--origin", "https://shop.example"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            key_id = re.search(r"X-Client-Application-Id:\s+(\S+)", key)
            token = re.search(r"X-Client-Token:\s+(\S+)", key)
            assert key_id
            assert token
            headers = {
                "X-Client-Application-Id": key_id.group(1),
                "X-Client-Token": token.group(1),
                "Origin": "https://shop.example",
                "Content-Type": "application/json",
            }
            body = json.dumps({"event": "seen", "customer": {"source_id": "c"}})

            def track(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
                connection.request("POST", "/client/v1/events", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                return response

            connections = connection_to_each(serve.port, servers)
            first, second = connections[servers[0]], connections[servers[1]]
            assert [track(first).status for _ in range(5)] == [200] * 5
            # The other process has answered none of them, and refuses the sixth all the same.
            for connection in (second, first):
                refused = track(connection)
                assert refused.status == 429
                assert 1 <= int(refused.headers["retry-after"]) <= 5
            # Server routes are not limited, in either process.
            for connection in (first, second):
                connection.request(
                    "GET", "/v1/customers", headers={"X-App-Id": "app", "X-App-Token": "token"}
                )
                response = connection.getresponse()
                assert json.loads(response.read())["total"] == 1
        finally:
            _, err = serve.stop()
        assert serve.process.returncode == 0, err
        assert not postgres_running(data_dir)
        assert not [pid for pid in servers if alive(pid)]

    def test_the_server_processes_stop_when_the_first_one_is_killed(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        serve = Serve(env_for(data_dir), "--workers", "2")
        try:
            wait_healthy(serve.base_url, serve.process)
            deadline = time.monotonic() + 60
            while len(servers := server_processes(serve.process.pid)) < 2:
                assert time.monotonic() < deadline, servers
                time.sleep(0.1)
            serve.process.send_signal(signal.SIGKILL)
            serve.process.wait(timeout=10)
            deadline = time.monotonic() + 30
            while [pid for pid in servers if alive(pid)]:
                assert time.monotonic() < deadline, "orphaned server processes still run"
                time.sleep(0.1)
        finally:
            serve.stop()
            # The embedded PostgreSQL outlives a killed `patron serve` (the next one adopts it).
            again = Serve(env_for(data_dir))
            try:
                wait_healthy(again.base_url, again.process)
            finally:
                again.stop()
        assert not postgres_running(data_dir)

    def test_workers_must_be_positive(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [*PATRON, "serve", "--workers", "0"],
            env=env_for(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert "--workers" in result.stderr


class TestPoolSizePerProcess:
    """processes x pool size <= connection limit - 10 spare, with at least 5 per process."""

    def test_the_pools_fit_as_configured(self) -> None:
        # The embedded PostgreSQL: max_connections 100, 3 reserved for superusers.
        assert pool_size_per_process(
            Settings(), processes=4, connection_limit=97, explicit=True
        ) == (4, 20)

    def test_each_pool_shrinks_to_fit(self) -> None:
        assert pool_size_per_process(
            Settings(), processes=8, connection_limit=97, explicit=True
        ) == (8, 9)
        assert pool_size_per_process(
            Settings(pool_max_size=50), processes=1, connection_limit=97, explicit=False
        ) == (1, 50)

    def test_too_many_processes_asked_for_are_refused(self) -> None:
        with pytest.raises(CommandError, match="run at most 14"):
            pool_size_per_process(Settings(), processes=18, connection_limit=97, explicit=True)
        with pytest.raises(CommandError, match="run at most 0"):
            pool_size_per_process(Settings(), processes=1, connection_limit=12, explicit=False)

    def test_one_per_core_is_lowered_to_what_fits(self) -> None:
        assert pool_size_per_process(
            Settings(), processes=64, connection_limit=97, explicit=False
        ) == (14, 5)

    def test_workers_setting(self) -> None:
        assert Settings.from_env({}).workers is None
        assert Settings.from_env({"PATRON_WORKERS": "3"}).workers == 3
        assert cores() >= 1


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
        assert result.returncode == 1, result.stderr  # a row failed
        assert " rows" not in result.stderr  # no bar when the output is not a terminal
        assert "1 customer(s) imported successfully, 1 failed." in result.stdout
        assert "row 2:" in result.stdout
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == 1
        assert (
            fresh_database.fetchval(
                "SELECT count(*) FROM customer_activities WHERE type = 'customer.created'"
            )
            == 1
        )

    def test_exits_0_when_every_row_is_imported(
        self, tmp_path: Path, fresh_database: Database
    ) -> None:
        credentials = create_project(fresh_database)
        csv_path = tmp_path / "people.csv"
        csv_path.write_text("Source_id,Name\nu1,Ann\nu2,Bob\n")
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)
        result = subprocess.run(
            [*PATRON, "customers", "import", str(csv_path), "--project", credentials.app_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 customer(s) imported successfully" in result.stdout

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
            gift = httpx.post(
                f"{serve.base_url}/v1/campaigns",
                headers=headers,
                json={"name": "Gift", "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 700}}},
            )
            assert gift.status_code == 200, gift.text
            published = httpx.post(
                f"{serve.base_url}/v1/publications",
                headers=headers,
                json={"customer": {"source_id": "s"}, "campaign": "Gift"},
            )
            assert published.status_code == 200, published.text
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
        fresh_database.fetch(
            "UPDATE customers SET orders_total_amount = 1, gift_balance = 1 WHERE source_id = 's'"
        )
        found = check()
        assert found.returncode == 1
        assert "stored amount (cents) 1, orders 2, last order (cents) " in found.stdout
        assert "the orders say amount (cents) 350, orders 2, last order (cents) " in found.stdout
        assert "E+" not in found.stdout
        assert "stored gift credits 1" in found.stdout
        assert "the cards held say 700" in found.stdout
        fixed = check("--fix")
        assert fixed.returncode == 0
        assert "fixed" in fixed.stdout
        assert (
            fresh_database.fetchval(
                "SELECT (orders_total_amount, gift_balance)::text FROM customers"
                " WHERE source_id = 's'"
            )
            == "(350,700)"
        )
        after = check().stdout
        assert "0 customer(s) differ" in after
        assert "0 customer(s) with card balances that differ" in after

    def test_finds_and_repairs_redemption_counters(
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
            card = httpx.post(
                f"{serve.base_url}/v1/vouchers",
                headers=headers,
                json={"type": "GIFT_VOUCHER", "gift": {"amount": 1000}},
            )
            assert card.status_code == 200, card.text
            for credits in (300, 5000):
                httpx.post(
                    f"{serve.base_url}/v1/redemptions",
                    headers=headers,
                    json={
                        "redeemables": [
                            {
                                "object": "voucher",
                                "id": card.json()["code"],
                                "gift": {"credits": credits},
                            }
                        ],
                        "customer": {"source_id": "r"},
                        "order": {"amount": 6000},
                    },
                )
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
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "0 customer(s) with redemption counters that differ" in clean.stdout
        fresh_database.fetch(
            "UPDATE customers SET redemptions_failed = 7, gift_redeemed = 1 WHERE source_id = 'r'"
        )
        found = check()
        assert found.returncode == 1
        assert (
            "stored redemptions succeeded 1, failed 7, rollbacks succeeded 0, rollbacks failed 0,"
            " gift credits redeemed 1, loyalty points redeemed 0;"
            " the redemptions and rollbacks say 1, 1, 0, 0, 300, 0"
        ) in found.stdout
        assert "1 customer(s) with redemption counters that differ" in found.stdout
        fixed = check("--fix")
        assert fixed.returncode == 0
        assert "1 customer(s) with redemption counters that differ, fixed" in fixed.stdout
        assert (
            fresh_database.fetchval(
                "SELECT (redemptions_succeeded, redemptions_failed, gift_redeemed)::text"
                " FROM customers WHERE source_id = 'r'"
            )
            == "(1,1,300)"
        )
        assert "0 customer(s) with redemption counters that differ" in check().stdout


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


class TestNoDatabaseByAccident:
    def test_projects_create_in_an_empty_folder_is_refused(self, tmp_path: Path) -> None:
        env = env_for(tmp_path)
        del env["PATRON_DATA_DIR"]
        result = subprocess.run(
            [*PATRON, "projects", "create", "X"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert str(tmp_path / ".patron") in line
        assert "PATRON_DATA_DIR" in line
        assert "PATRON_DATABASE_URL" in line
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        "command",
        [
            ("customers", "recount"),
            ("summaries", "check"),
            ("projects", "client-key", "default", "--origin", "x"),
            ("consents", "create", "N", "--project", "default"),
            ("worker",),
        ],
    )
    def test_other_commands_refuse_a_missing_data_folder(
        self, tmp_path: Path, command: tuple[str, ...]
    ) -> None:
        data_dir = tmp_path / "elsewhere"
        result = subprocess.run(
            [*PATRON, *command], env=env_for(data_dir), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert str(data_dir) in result.stderr
        assert not data_dir.exists()


class TestHelpAndQuiet:
    def test_help_answers_at_once_without_importing_the_app(self) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [PATRON_EXECUTABLE, "--help"], capture_output=True, text=True, timeout=30, check=True
        )
        assert time.monotonic() - started < 1.0
        text = " ".join(result.stdout.split())
        assert "import and check customer data" in text
        assert "Exit codes" in text
        imported = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, patron.cli;"
                " print(' '.join(m for m in ('asyncio', 'asyncpg', 'alembic', 'litestar',"
                " 'msgspec', 'pydantic', 'tqdm', 'uvicorn', 'patron.app', 'patron.config')"
                " if m in sys.modules))",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert imported.stdout.strip() == ""

    def test_a_command_help_reads_no_settings(self, tmp_path: Path) -> None:
        """A command's help answers before anything is configured: a bad setting, no database."""
        started = time.monotonic()
        result = subprocess.run(
            [PATRON_EXECUTABLE, "customers", "import", "-h"],
            env=env_for(tmp_path / "data", PATRON_POOL_MAX_SIZE="abc"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert time.monotonic() - started < 1.0
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("Usage: patron customers import [OPTIONS] FILE")
        assert "--project PROJECT" in result.stdout
        assert result.stderr == ""
        assert not (tmp_path / "data").exists()

    def test_usage_errors_exit_2(self) -> None:
        for args in (["serve", "--port", "http"], ["projects", "create"], []):
            result = subprocess.run(
                [PATRON_EXECUTABLE, *args], capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 2, (args, result.stderr)
            assert result.stdout == ""
            assert "Usage: patron" in result.stderr

    def test_a_command_with_no_migration_to_apply_logs_none(
        self, tmp_path: Path, fresh_database: Database
    ) -> None:
        env = env_for(
            tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn, PATRON_LOG_LEVEL="INFO"
        )
        result = subprocess.run(
            [*PATRON, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert "alembic" not in result.stderr.lower()
        assert "Context impl" not in result.stderr
        assert "migration applied" not in result.stderr


COMMANDS = [
    ("serve",),
    ("migrate",),
    ("worker",),
    ("config",),
    ("projects", "create"),
    ("projects", "list"),
    ("projects", "rotate-token"),
    ("projects", "client-key"),
    ("projects", "delete-client-key"),
    ("customers", "import"),
    ("customers", "recount"),
    ("summaries", "check"),
    ("consents", "create"),
    ("consents", "group"),
]


def invoke(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    """`patron ARGS` in this process, for what Click decides before a command runs (help,
    usage errors) or as it starts (settings): nothing here configures logging or a database."""
    return CliRunner().invoke(cli, list(args), prog_name="patron", env=env)


def listed_commands(help_text: str) -> list[str]:
    """The lines of a group's help that list its commands: name and first sentence."""
    return help_text.split("Commands:\n", 1)[1].splitlines()


class TestCommandLine:
    def test_the_top_level_help_lists_every_command_in_order(self) -> None:
        result = invoke("-h")
        assert result.exit_code == 0
        names = [line.split()[0] for line in listed_commands(result.stdout)]
        assert names == list(dict.fromkeys(command[0] for command in COMMANDS))

    @pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
    def test_every_command_has_help(self, command: tuple[str, ...]) -> None:
        result = invoke(*command, "--help")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"Usage: patron {' '.join(command)} ")
        summary = result.stdout.split("\n\n", 2)[1].strip()
        assert summary[0].isupper()
        assert summary.endswith(".")
        [listed] = [
            line
            for line in listed_commands(invoke(*command[:-1], "--help").stdout)
            if line.split()[0] == command[-1]
        ]
        assert listed.split(None, 1)[1] == summary.split(". ")[0].rstrip(".") + "."

    @pytest.mark.parametrize(
        "group", [(), ("projects",), ("customers",), ("summaries",), ("consents",)]
    )
    def test_commands_are_listed_whole_on_80_columns(self, group: tuple[str, ...]) -> None:
        """Click cuts a command's first sentence short ("...") where the terminal is narrow."""
        result = subprocess.run(
            [PATRON_EXECUTABLE, *group, "--help"],
            env={**os.environ, "COLUMNS": "80"},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert not [line for line in listed_commands(result.stdout) if line.endswith("...")]

    @pytest.mark.parametrize(
        ("args", "error"),
        [
            (("nope",), "No such command 'nope'"),
            (("serve", "--bogus"), "No such option '--bogus'"),
            (("serve", "--workers", "0"), "Invalid value for '--workers': 0 is not in the range"),
            (("serve", "--port", "http"), "Invalid value for '--port'"),
            (("projects", "create"), "Missing argument 'NAME'"),
            (("projects", "client-key", "shop"), "Missing option '--origin'"),
            (("customers", "import", "people.csv"), "Missing option '--project'"),
            (("consents", "group", "G", "--project", "p"), "Missing option '--consent'"),
            (("projects", "list", "extra"), "Got unexpected extra argument (extra)"),
        ],
    )
    def test_a_usage_error_exits_2_with_the_usage(self, args: tuple[str, ...], error: str) -> None:
        result = invoke(*args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith("Usage: patron ")
        assert f"Error: {error}" in result.stderr

    @pytest.mark.parametrize("args", [(), ("projects",), ("consents",)])
    def test_a_group_without_a_command_shows_its_help_and_exits_2(
        self, args: tuple[str, ...]
    ) -> None:
        result = invoke(*args)
        assert result.exit_code == 2
        assert "Commands:" in result.stderr

    def test_a_bad_setting_is_one_line_and_exit_2_for_every_command(self) -> None:
        for command in (("config",), ("projects", "list"), ("summaries", "check")):
            result = invoke(*command, env={"PATRON_LOG_LEVEL": "verbose"})
            assert result.exit_code == 2
            assert result.stdout == ""
            assert result.stderr == (
                "patron: PATRON_LOG_LEVEL='verbose' is not allowed: expected one of DEBUG,"
                " INFO, WARNING, ERROR, CRITICAL\n"
            )


class TestProjectCommands:
    def test_list_create_rotate_and_names(self, tmp_path: Path, fresh_database: Database) -> None:
        shop = create_project(fresh_database, name="shop")
        shop_name = shop.name
        env = env_for(tmp_path / "unused", PATRON_DATABASE_URL=fresh_database.dsn)

        def patron(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*PATRON, *args], env=env, capture_output=True, text=True, timeout=120
            )

        created = patron("projects", "create", "outlet")
        assert created.returncode == 0, created.stderr
        outlet = read_credentials(created.stdout)
        outlet_id = re.search(r"project:\s+outlet \((\S+)\)", created.stdout)
        assert outlet_id, created.stdout
        duplicate = patron("projects", "create", shop_name)
        assert duplicate.returncode == 2
        assert duplicate.stderr.count("\n") == 1
        assert f"{shop_name!r} exists already" in duplicate.stderr
        assert (
            fresh_database.fetchval("SELECT count(*) FROM projects WHERE name = $1", shop_name) == 1
        )

        listed = patron("projects", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == ["NAME", "ID", "APP", "ID"]
        assert lines[1].split() == ["outlet", outlet_id.group(1), outlet["X-App-Id"]]
        assert lines[2].split() == [*shop_name.split(), shop.project_id, shop.app_id]

        rotated = patron("projects", "rotate-token", shop_name)
        assert rotated.returncode == 0, rotated.stderr
        token = re.search(r"X-App-Token:\s+(\S+)", rotated.stdout)
        assert token
        stored = fresh_database.fetchval(
            "SELECT app_token_hash FROM projects WHERE id = $1", shop.project_id
        )
        assert bytes(stored) == hash_token(token.group(1))
        assert bytes(stored) != hash_token(shop.app_token)
        unknown = patron("projects", "rotate-token", "nope")
        assert unknown.returncode == 2
        assert "no project with name, id or app id nope" in unknown.stderr

        for key in (shop_name, shop.project_id, shop.app_id):
            client_key = patron("projects", "client-key", key, "--origin", "https://shop.example")
            assert client_key.returncode == 0, client_key.stderr
            assert f"for project {shop_name} ({shop.project_id})" in client_key.stdout

        key_id = re.search(r"X-Client-Application-Id:\s+(\S+)", client_key.stdout)
        assert key_id is not None
        deleted = patron("projects", "delete-client-key", key_id.group(1))
        assert deleted.returncode == 0, deleted.stderr
        assert not fresh_database.fetch("SELECT 1 FROM client_keys WHERE id = $1", key_id.group(1))
        again = patron("projects", "delete-client-key", key_id.group(1))
        assert again.returncode == 2
        assert f"no client key with id {key_id.group(1)}" in again.stderr


class TestConfiguration:
    @pytest.mark.parametrize(
        ("variable", "value", "named"),
        [
            ("PATRON_POOL_MAX_SIZE", "abc", "whole number"),
            ("PATRON_LOG_LEVEL", "verbose", "DEBUG, INFO"),
            ("PATRON_DATABASE_URL", "postgresql://u:secret@127.0.0.1:1/x", "127.0.0.1:1"),
        ],
    )
    def test_a_bad_setting_is_one_line(
        self, tmp_path: Path, variable: str, value: str, named: str
    ) -> None:
        result = subprocess.run(
            [*PATRON, "migrate"],
            env=env_for(tmp_path / "data", **{variable: value}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert named in lines[0]
        assert "secret" not in result.stderr
        assert not (tmp_path / "data").exists()

    def test_config_prints_the_settings_with_secrets_masked(self, tmp_path: Path) -> None:
        env = env_for(
            tmp_path,
            PATRON_APP_ID="app",
            PATRON_APP_TOKEN="token-value",
            PATRON_DATABASE_URL="postgresql://user:pw-value@db.example:5432/patron",
        )
        result = subprocess.run(
            [*PATRON, "config"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "PATRON_APP_TOKEN=***" in result.stdout
        assert "PATRON_DATABASE_URL=postgresql://user:***@db.example:5432/patron" in result.stdout
        assert "token-value" not in result.stdout
        assert "pw-value" not in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestImportProgress:
    def test_the_bar_is_drawn_on_a_terminal(self, tmp_path: Path, fresh_database: Database) -> None:
        from patron.operator_import import import_csv

        credentials = create_project(fresh_database)
        csv_path = tmp_path / "people.csv"
        csv_path.write_text("Source_id,Name\nu1,Ann\nu2,Bob\nu3,Cy\n")
        out = _Terminal()
        action = run(import_csv(fresh_database.dsn, credentials.app_id, csv_path, out=out))
        assert action["status"] == "DONE"
        assert "3/3" in out.getvalue()
        assert "rows" in out.getvalue()

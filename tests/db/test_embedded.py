"""The embedded PostgreSQL that Patron creates is tuned for a server, once, at creation."""

from __future__ import annotations

from pathlib import Path

from patron.db.embedded import TUNING, EmbeddedPostgres
from tests.conftest import Database


def test_a_new_cluster_gets_patrons_settings_once(tmp_path: Path) -> None:
    for _start in range(2):
        embedded = EmbeddedPostgres(tmp_path)
        try:
            db = Database(embedded.start())
            for name, value in TUNING.items():
                assert db.fetchval(f"SHOW {name}") == value
        finally:
            embedded.stop()
    conf = (tmp_path / "pg" / "postgresql.conf").read_text()
    assert conf.count("shared_buffers = '") == 1

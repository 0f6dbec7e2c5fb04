"""`patron customers import` (patron.operator_import): the API's CSV import, from the shell."""

from __future__ import annotations

import io
from pathlib import Path

from patron.operator_import import import_csv
from tests.conftest import Database, create_project, run


class TestOperatorImport:
    def test_rows_by_id_and_metadata_typed_per_column(
        self, tmp_path: Path, fresh_database: Database
    ) -> None:
        credentials = create_project(fresh_database)
        first = tmp_path / "first.csv"
        first.write_text("Source_id,zip\nu1,02816\nu2,64937\n")
        action = run(import_csv(fresh_database.dsn, credentials.app_id, first, out=io.StringIO()))
        assert (action["status"], action["result"]["done_count"]) == ("DONE", 2)
        rows = fresh_database.fetch(
            "SELECT id, source_id, metadata FROM customers WHERE project_id = $1"
            " ORDER BY source_id",
            credentials.project_id,
        )
        # One type for the whole column: both zips are text.
        assert [row["metadata"]["zip"] for row in rows] == ["02816", "64937"]
        second = tmp_path / "second.csv"
        second.write_text(f"Id,Name\n{rows[0]['id']},Ann\ncust_unknown,Nobody\n")
        action = run(import_csv(fresh_database.dsn, credentials.app_id, second, out=io.StringIO()))
        assert action["result"]["done_count"] == 1
        assert [(f["row"], f["reason"]) for f in action["result"]["failed"]] == [
            (2, "Cannot find customer with id cust_unknown")
        ]
        names = fresh_database.fetch(
            "SELECT source_id, name FROM customers WHERE project_id = $1 ORDER BY source_id",
            credentials.project_id,
        )
        assert [(row["source_id"], row["name"]) for row in names] == [("u1", "Ann"), ("u2", None)]

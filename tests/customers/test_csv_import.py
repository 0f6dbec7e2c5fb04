"""CSV imports: rows as customers (the quick check agrees with the full one on every row), the
key columns, metadata typed per column, and the import through the SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.customers.csv_import import (
    BOOLEAN,
    NULL,
    NUMBER,
    TEXT,
    CsvFileError,
    CsvLayout,
    MetadataTyping,
)
from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import create_customer

STANDARD = [
    "Source_id",
    "Name",
    "Email",
    "Phone",
    "Birthdate",
    "Birthday",
    "Description",
    "Address_line_1",
    "Address_line_2",
    "Postal_Code",
    "City",
    "Address_State",
    "Country",
]

# Cells as the database returns them: any text but NUL and lone surrogates.
any_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
cell = st.one_of(
    st.just(""),
    any_text,
    st.sampled_from(
        [
            "1980-01-02",
            "1980-02-30",
            "0000-01-01",
            "9999-12-31",
            "1980-1-02",
            "١٩٨٠-01-02",
            "ann@example.com",
            "ann@example",
            "a b@example.com",
            "ann@example.com\n",
            "42",
            "-7",
            "3.5",
            "1.50",
            "007",
            "true",
            "null",
            "1e3",
            "x" * 251,
            "é" * 251,
            "x" * 4097,
            "e" * 245 + "@example.com",
        ]
    ),
)


@st.composite
def layouts_and_rows(draw: Any) -> tuple[CsvLayout, list[list[str]]]:
    keys = draw(st.sampled_from([["Source_id"], ["Id"], ["Id", "Source_id"]]))
    standard = draw(st.lists(st.sampled_from(STANDARD[1:]), unique=True))
    metadata = draw(st.lists(st.sampled_from(["tier", "vip", "zip", "note"]), unique=True))
    header = [*keys, *standard, *metadata]
    header = draw(st.permutations(header))
    types = draw(
        st.none()
        | st.fixed_dictionaries(
            {name: st.sampled_from([TEXT, NUMBER, BOOLEAN, NULL]) for name in metadata}
        )
    )
    layout = CsvLayout.from_header(header, metadata_types=types)
    width = len(header)
    row = st.one_of(
        st.lists(cell, min_size=width, max_size=width),
        st.lists(cell, min_size=0, max_size=width + 1),
    )
    return layout, draw(st.lists(row, min_size=1, max_size=5))


def outcome(check: Any, cells: list[str]) -> Any:
    try:
        return check(cells)
    except ValueError as exc:
        return ("error", str(exc))


class TestValuesOf:
    @settings(max_examples=400)
    @given(layouts_and_rows())
    def test_agrees_with_the_full_check(self, case: tuple[CsvLayout, list[list[str]]]) -> None:
        layout, rows = case
        for cells in rows:
            quick = outcome(layout.values_of, cells)
            full = outcome(layout.customer, cells)
            assert quick == full
            if len(quick) == 3:
                # The same columns in the same order, as the repository writes them.
                assert list(quick[2]) == list(full[2])
                address = quick[2].get("address")
                assert address is None or list(address) == list(full[2]["address"])

    def test_valid_row_is_typed(self) -> None:
        layout = CsvLayout.from_header(["Source_id", "Name", "Birthdate", "City", "tier", "vip"])
        customer_id, source_id, values = layout.values_of(
            ["s1", "Ann", "1980-01-02", "Oslo", "3", "true"]
        )
        assert (customer_id, source_id) == (None, "s1")
        assert values["address"] == {"city": "Oslo"}
        assert values["metadata"] == {"tier": 3, "vip": True}
        assert str(values["birthdate"]) == "1980-01-02"


class TestKeys:
    """Rows are matched by Id (an existing customer) or Source_id; Id wins when both are set."""

    def test_id_column_alone(self) -> None:
        layout = CsvLayout.from_header(["Id", "Name"])
        assert layout.values_of(["cust_a", "Ann"])[:2] == ("cust_a", None)
        with pytest.raises(ValueError, match="Id is empty"):
            layout.values_of(["", "Ann"])

    def test_id_wins_over_source_id_and_source_id_stands_in_for_an_empty_id(self) -> None:
        layout = CsvLayout.from_header(["Source_id", "Id", "Name"])
        assert layout.values_of(["s1", "cust_a", "Ann"])[:2] == ("cust_a", None)
        assert layout.values_of(["s1", "", "Ann"])[:2] == (None, "s1")
        with pytest.raises(ValueError, match="Id and Source_id are both empty"):
            layout.values_of(["", "", "Ann"])

    def test_id_is_neither_a_field_nor_metadata(self) -> None:
        _, _, values = CsvLayout.from_header(["ID", "tier"]).values_of(["cust_a", "2"])
        assert values == {"metadata": {"tier": 2}}

    @pytest.mark.parametrize(
        ("header", "fragment"),
        [
            (["Name", "Email"], "no Id or Source_id column"),
            (["Name;Email;Source_id"], "holds ';' and no ','"),
            (["Name\tEmail\tSource_id"], "holds tabs and no ','"),
            (["Name|Source_id"], "holds '|' and no ','"),
            (["Id", "id"], "twice"),
        ],
    )
    def test_bad_headers(self, header: list[str], fragment: str) -> None:
        with pytest.raises(CsvFileError, match=fragment):
            CsvLayout.from_header(header)

    def test_a_lone_column_with_a_semicolon_in_quotes_and_a_comma_is_a_name(self) -> None:
        # `"Source_id,x;y"` is one cell holding a comma: not a semicolon-separated header.
        with pytest.raises(CsvFileError, match="no Id or Source_id"):
            CsvLayout.from_header(["Source_id,x;y"])


def typed(header: list[str], rows: list[list[str]]) -> list[dict[str, Any]]:
    """The rows' metadata, typed per column as an import types it."""
    typing = MetadataTyping(CsvLayout.from_header(header))
    # Shown in two chunks, as an import shows a long file.
    typing.see(rows[:1])
    typing.see(rows[1:])
    layout = CsvLayout.from_header(header, metadata_types=typing.types())
    return [layout.values_of(cells)[2]["metadata"] for cells in rows]


class TestMetadataTyping:
    def test_a_zip_column_with_one_leading_zero_is_text_in_every_row(self) -> None:
        rows = [["a", "02816"], ["b", "64937"], ["c", "10001"]]
        assert typed(["Source_id", "zip"], rows) == [
            {"zip": "02816"},
            {"zip": "64937"},
            {"zip": "10001"},
        ]

    def test_the_text_cell_may_come_last(self) -> None:
        rows = [["a", "64937"], ["b", "1.5"], ["c", "n/a"]]
        assert [m["zip"] for m in typed(["Source_id", "zip"], rows)] == ["64937", "1.5", "n/a"]

    def test_columns_of_one_kind_are_typed(self) -> None:
        header = ["Source_id", "tier", "vip", "gone", "mixed", "blank"]
        rows = [
            ["a", "3", "true", "null", "1", ""],
            ["b", "1.5", "false", "", "true", ""],
            ["c", "null", "", "null", "x", ""],
            ["d", "", "null", "", "2", ""],
        ]
        assert typed(header, rows) == [
            {"tier": 3, "vip": True, "gone": None, "mixed": "1"},
            {"tier": 1.5, "vip": False, "mixed": "true"},
            {"tier": None, "gone": None, "mixed": "x"},
            {"vip": None, "mixed": "2"},
        ]

    def test_types_by_name(self) -> None:
        typing = MetadataTyping(CsvLayout.from_header(["a", "Source_id", "b", "c", "d", "e"]))
        typing.see([["1", "s", "x", "true", "null", "1"], ["2", "s", "", "false", "", "false"]])
        assert typing.types() == {"a": NUMBER, "b": TEXT, "c": BOOLEAN, "d": NULL, "e": TEXT}

    @settings(max_examples=200)
    @given(st.lists(st.lists(cell, min_size=2, max_size=3), min_size=1, max_size=8))
    def test_a_column_holds_one_type(self, rows: list[list[str]]) -> None:
        """Whatever the cells (rows short or long included), a column's non-null values are all
        text, all numbers or all booleans; a text column keeps each cell as written."""
        header = ["Source_id", "m"]
        typing = MetadataTyping(CsvLayout.from_header(header))
        typing.see(rows)
        layout = CsvLayout.from_header(header, metadata_types=typing.types())
        values = [
            layout.metadata_value(1, cells[1]) for cells in rows if len(cells) > 1 and cells[1]
        ]
        kinds = {
            "text" if isinstance(v, str) else "bool" if isinstance(v, bool) else "number"
            for v in values
            if v is not None
        }
        assert len(kinds) <= 1
        if kinds == {"text"}:
            assert values == [cells[1] for cells in rows if len(cells) > 1 and cells[1]]


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture
def actions_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.AsyncActionsApi(client)


@pytest.fixture
def segments_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.SegmentsApi(client)


def sdk_import(customers_api: Any, actions_api: Any, content: str) -> Any:
    """Import through the SDK and wait for the action, as a client polls it."""
    accepted = customers_api.import_customers_using_csv(file=content.encode())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        action = actions_api.get_async_action(async_action_id=accepted.async_action_id)
        if action.status in ("DONE", "FAILED"):
            return action
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def failures(action: Any) -> list[tuple[int, str]]:
    return [(failure["row"], failure["reason"]) for failure in action.result["failed"]]


class TestImportMetadataTypes:
    def test_a_zip_column_is_text_for_every_customer_and_segments_match_it(
        self, customers_api: Any, actions_api: Any, segments_api: Any
    ) -> None:
        content = "Source_id,zip,visits\nz1,02816,3\nz2,64937,12\nz3,10001,\n"
        action = sdk_import(customers_api, actions_api, content)
        assert (action.status, action.result["done_count"]) == ("DONE", 3)
        customers = {
            source_id: customers_api.get_customer(customer_id=source_id)
            for source_id in ("z1", "z2", "z3")
        }
        assert {s: c.metadata for s, c in customers.items()} == {
            "z1": {"zip": "02816", "visits": 3},
            "z2": {"zip": "64937", "visits": 12},
            "z3": {"zip": "10001"},
        }

        def members(condition: dict[str, Any]) -> set[str]:
            body = voucherify.SegmentsCreateRequestBody(
                name=f"zip {condition}",
                type="auto-update",
                filter={"junction": "and", "metadata.zip": {"conditions": condition}},
            )
            segment = segments_api.create_segment(body)
            page = customers_api.list_customers(segment_id=segment.id, limit=100)
            return {customer.source_id for customer in page.customers}

        assert members({"$in": ["02816", "64937"]}) == {"z1", "z2"}
        assert members({"$starts_with": "6"}) == {"z2"}
        assert members({"$is": "10001"}) == {"z3"}

    def test_a_text_cell_late_in_a_long_file_makes_the_column_text(
        self, customers_api: Any, actions_api: Any
    ) -> None:
        # Past the first chunk of rows an import reads, and in another batch of the worker.
        rows = "".join(f"n{n},{n}\n" for n in range(12_000))
        action = sdk_import(customers_api, actions_api, f"Source_id,code\n{rows}late,A-1\n")
        assert action.result["done_count"] == 12_001
        assert customers_api.get_customer(customer_id="n7").metadata == {"code": "7"}
        assert customers_api.get_customer(customer_id="late").metadata == {"code": "A-1"}


class TestImportById:
    def test_rows_with_an_id_update_that_customer(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        ann = create_customer(http, source_id="ann", name="Ann", metadata={"old": 1})
        bob = customers_api.create_customer(voucherify.CustomersCreateRequestBody(name="Bob"))
        assert bob.source_id is None
        content = (
            f"Id,Name,tier\n{ann['id']},Ann B.,2\n{bob.id},Bob C.,3\ncust_nobody,Nobody,4\n,x,5\n"
        )
        action = sdk_import(customers_api, actions_api, content)
        assert action.status == "DONE"
        assert action.result["message"] == "2 customer(s) imported successfully, 2 failed."
        assert failures(action) == [
            (3, "Cannot find customer with id cust_nobody"),
            (4, "Id is empty"),
        ]
        assert action.result["failed"][0]["id"] == "cust_nobody"
        updated = customers_api.get_customer(customer_id=ann["id"])
        assert (updated.source_id, updated.name, updated.metadata) == ("ann", "Ann B.", {"tier": 2})
        updated = customers_api.get_customer(customer_id=bob.id)
        assert (updated.source_id, updated.name, updated.metadata) == (None, "Bob C.", {"tier": 3})
        # Nothing was created: an Id only ever names an existing customer.
        assert customers_api.list_customers(limit=100).total == 2
        page = customers_api.list_customer_activity(customer_id=bob.id, limit=10)
        assert [a.type for a in page.data] == ["customer.updated", "customer.created"]

    def test_id_wins_over_source_id_and_an_empty_id_falls_back_to_it(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        ann = create_customer(http, source_id="ann", name="Ann")
        content = (
            "Source_id,Id,Name\n"
            f"someone-else,{ann['id']},By id\n"
            "fresh,,Created\n"
            ",,Nobody\n"
            f"ann,,By source id\n"
            f",{ann['id']},By id again\n"
        )
        action = sdk_import(customers_api, actions_api, content)
        assert action.result["done_count"] == 4
        assert failures(action) == [(3, "Id and Source_id are both empty")]
        updated = customers_api.get_customer(customer_id=ann["id"])
        # Its source_id cannot change; the rows that reach it apply in file order.
        assert (updated.source_id, updated.name) == ("ann", "By id again")
        assert customers_api.get_customer(customer_id="fresh").name == "Created"
        assert customers_api.list_customers(limit=100).total == 2

    def test_a_deleted_customer_is_not_found_by_id(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        gone = create_customer(http, source_id="gone")
        http.delete(f"/v1/customers/{gone['id']}")
        action = sdk_import(customers_api, actions_api, f"Id,Name\n{gone['id']},Back\n")
        assert failures(action) == [(1, f"Cannot find customer with id {gone['id']}")]
        assert action.result["done_count"] == 0


class TestImportSeparators:
    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            ("Name;Email;Source_id\nAnn;ann@example.com;s1\n", "The header holds ';' and no ','"),
            ("Id;Name\ncust_x;Ann\n", "The header holds ';' and no ','"),
            ("Source_id\tName\ns1\tAnn\n", "The header holds tabs and no ','"),
        ],
    )
    def test_another_separator_is_named(
        self, http: httpx.Client, content: str, fragment: str
    ) -> None:
        response = http.post("/v1/customers/importCSV", files={"file": ("c.csv", content)})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["key"] == "invalid_payload"
        assert fragment in body["details"]
        assert "commas" in body["details"]
        assert http.get("/v1/async-actions").json()["async_actions"] == []

    def test_a_file_with_neither_key_column(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers/importCSV", files={"file": ("c.csv", "Name\nAnn\n")})
        assert response.status_code == 400
        assert "no Id or Source_id column" in response.json()["details"]

"""CSV rows as customers: the quick check agrees with the full one on every row."""

from __future__ import annotations

from typing import Any

import pytest
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

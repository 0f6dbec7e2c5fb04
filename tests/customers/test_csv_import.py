"""CSV rows as customers: the quick check agrees with the full one on every row."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.customers.csv_import import CsvLayout

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
    standard = draw(st.lists(st.sampled_from(STANDARD[1:]), unique=True))
    metadata = draw(st.lists(st.sampled_from(["tier", "vip", "zip", "note"]), unique=True))
    header = ["Source_id", *standard, *metadata]
    header = draw(st.permutations(header))
    layout = CsvLayout.from_header(header)
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
            if not isinstance(quick[1], str):
                # The same columns in the same order, as the repository writes them.
                assert list(quick[1]) == list(full[1])
                address = quick[1].get("address")
                assert address is None or list(address) == list(full[1]["address"])

    def test_valid_row_is_typed(self) -> None:
        layout = CsvLayout.from_header(["Source_id", "Name", "Birthdate", "City", "tier", "vip"])
        source_id, values = layout.values_of(["s1", "Ann", "1980-01-02", "Oslo", "3", "true"])
        assert source_id == "s1"
        assert values["address"] == {"city": "Oslo"}
        assert values["metadata"] == {"tier": 3, "vip": True}
        assert str(values["birthdate"]) == "1980-01-02"

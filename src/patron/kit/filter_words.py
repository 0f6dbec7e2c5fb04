"""The enum-like words of Voucherify's filter language, read in any letter case.

Voucherify's own examples write `"junction": "AND"` (the OpenAPI spec's segment, validation
rule and campaign examples; its maintainers' answers) as often as `"and"`, and an operator
such as `$IS` is the same word. Wherever Patron takes a filter — a segment's `filter` body,
`filters[junction]` and `filters[<field>][conditions][$<operator>]` in a query — a documented
word is read in any case and compared in its documented, lower-case spelling. A word that is
not documented is returned as sent, so that the 400 the caller raises names it as sent.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# How the conditions of a filter combine.
JUNCTIONS = ("and", "or")
# The operators of the filter language (segments, list filters), as Voucherify documents them.
OPERATORS = frozenset(
    {
        "$is",
        "$is_not",
        "$in",
        "$not_in",
        "$has_value",
        "$is_unknown",
        "$starts_with",
        "$ends_with",
        "$contains",
        "$not_contain",
        "$more_than",
        "$less_than",
        "$more_than_equal",
        "$less_than_equal",
        "$before",
        "$after",
        "$is_days_ago",
        "$is_days_in_future",
        "$more_than_ago",
        "$less_than_ago",
        "$more_than_future",
        "$less_than_future",
        "$next_month",
    }
)


def spelled(word: Any, words: Collection[str]) -> Any:
    """`word` in its documented spelling when, in any letter case, it is one of `words`
    (lower case); anything else (another word, not text) unchanged."""
    if isinstance(word, str):
        lowered = word.lower()
        if lowered in words:
            return lowered
    return word


def junction(word: Any) -> Any:
    """`and` or `or` for those words in any case; anything else unchanged."""
    return spelled(word, JUNCTIONS)


def operator(word: Any) -> Any:
    """A documented operator (`$is`, `$in`, …) in lower case; anything else unchanged."""
    return spelled(word, OPERATORS)

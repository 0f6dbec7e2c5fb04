"""The filter language's words read in any letter case (`patron.kit.filter_words`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from patron.kit import filter_words


def any_case(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )


@given(
    st.sampled_from(sorted(filter_words.OPERATORS)).flatmap(
        lambda w: st.tuples(st.just(w), any_case(w))
    )
)
def test_a_documented_operator_in_any_case_is_that_operator(pair: tuple[str, str]) -> None:
    word, sent = pair
    assert filter_words.operator(sent) == word


@given(
    st.sampled_from(filter_words.JUNCTIONS).flatmap(lambda w: st.tuples(st.just(w), any_case(w)))
)
def test_a_junction_in_any_case_is_that_junction(pair: tuple[str, str]) -> None:
    word, sent = pair
    assert filter_words.junction(sent) == word


@given(st.one_of(st.text(), st.integers(), st.none()))
def test_anything_else_is_returned_as_sent(value: object) -> None:
    if isinstance(value, str) and value.lower() in filter_words.OPERATORS:
        return
    assert filter_words.operator(value) == value
    if not (isinstance(value, str) and value.lower() in filter_words.JUNCTIONS):
        assert filter_words.junction(value) == value

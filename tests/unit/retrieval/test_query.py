from hypothesis import given
from hypothesis import strategies as st

from gateway.retrieval.query import _TERM, MAX_CHARS, MAX_TERMS, bounded_query


def test_a_normal_question_is_unchanged() -> None:
    """Queries within the bounds reach Elasticsearch exactly as asked."""
    question = "How many vacation days do we get, and who approves them?"
    assert bounded_query(question) == question


def test_a_long_prompt_keeps_the_last_distinct_terms_in_order() -> None:
    """Pasted material first, question last: the question's terms are kept, in order."""
    pasted = " ".join(f"filler{n}" for n in range(5000))
    query = bounded_query(pasted + " What is the refund policy for enterprise customers?")
    assert query.endswith("What is the refund policy for enterprise customers")
    assert "filler0 " not in query


@given(
    st.text(max_size=20_000)
    | st.lists(st.sampled_from(["漢字", "word", "x" * 300]), max_size=3000).map(" ".join)
)
def test_any_text_is_bounded(text: str) -> None:
    """Whatever the caller sends, the query has at most MAX_TERMS terms and MAX_CHARS
    characters (or is the caller's text unchanged when that is within both)."""
    query = bounded_query(text)
    assert query == text or len(query) <= MAX_CHARS
    assert len(_TERM.findall(query)) <= MAX_TERMS

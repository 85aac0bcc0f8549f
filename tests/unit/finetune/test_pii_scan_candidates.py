"""The scan's candidate windows: the anchored token pattern finds what the backtracking
one found."""

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_scan
from gateway.finetune.examples import Example
from gateway.finetune.pii_scan import PiiScan

_BACKTRACKING_CANDIDATE = re.compile(r"\S*@\S*|\S*(?:[0-9]\S*){4}")
"""The candidate pattern before it was anchored: the reference for the equivalence."""
_TOKEN = re.compile(r"\S+")
_GROUP = re.compile(r"[0-9]{1,4}")
_PREFIXED_DIGITS = re.compile(r"[^0-9]*?([0-9]+)")
_MIDDLE_GROUP = re.compile(r"[0-9]{2,4}")
_LAST_GROUP = re.compile(r"[0-9]{3}")

_CHARS = st.sampled_from(
    [*"ab@.-_/:|+0123456789 \t\n", "\u00a0", "\u2003", "\u3000", "\uff11", "\u0663", "é"]
)


def _first_group(token: str) -> str | None:
    """The digits ending a token of non-digits then digits ("Tel:+34" -> "34")."""
    found = _PREFIXED_DIGITS.fullmatch(token)
    return found.group(1) if found else None


def _starts_digit_groups(text: str, tokens: list[re.Match[str]], index: int) -> bool:
    """Token ``index`` ends in 1-4 digits (any non-digits before them: a key, a field, a
    ``+``), then two more tokens of 1-4 digits and one starting with a digit follow,
    each after a single space; or it ends in 2-4 digits, then one token of 2-4 digits
    and one starting with three digits."""
    first = _first_group(tokens[index].group())
    if first is None:
        return False

    def spaced(count: int) -> bool:
        run = tokens[index : index + count]
        return len(run) == count and all(
            text[a.end() : b.start()] == " " for a, b in itertools.pairwise(run)
        )

    four = (
        spaced(4)
        and len(first) <= 4
        and all(_GROUP.fullmatch(t.group()) for t in tokens[index + 1 : index + 3])
        and tokens[index + 3].group()[0] in "0123456789"
    )
    three = (
        spaced(3)
        and 2 <= len(first) <= 4
        and _MIDDLE_GROUP.fullmatch(tokens[index + 1].group()) is not None
        and _LAST_GROUP.match(tokens[index + 2].group()) is not None
    )
    return four or three


_GROUPED_TEXT = st.lists(
    st.one_of(
        st.from_regex(r"[a-z:|+=]{0,3}[0-9]{1,5}", fullmatch=True), st.text(_CHARS, max_size=5)
    ),
    max_size=8,
).map(" ".join)
"""Digit groups (some after a key) between single spaces, mixed with other tokens: the
group alternatives' cases, which random characters rarely form."""


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(_CHARS, max_size=80), _GROUPED_TEXT))
def test_candidate_tokens_are_the_backtracking_patterns(text: str) -> None:
    """The anchored candidate pattern matches the spans the backtracking one matched, and
    the tokens starting four (or three) space-split digit groups, after a key or not,
    whatever the mix of spaces, digits, ``@`` and non-ASCII characters."""
    ours = [m.span() for m in pii_scan._CANDIDATE.finditer(text)]
    tokens = list(_TOKEN.finditer(text))
    groups = {t.span() for i, t in enumerate(tokens) if _starts_digit_groups(text, tokens, i)}
    reference = sorted({m.span() for m in _BACKTRACKING_CANDIDATE.finditer(text)} | groups)
    assert ours == reference


def test_a_phone_written_in_pairs_gets_a_window() -> None:
    """A French number in pairs has no token of four digits, yet is scanned."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    text = "Appelez le 01 42 68 53 00 ou +33 6 12 34 56 78."
    assert scan._all_pieces([Example(1, (text,))], False) == [(1, text)]


def test_three_groups_and_groups_after_a_key_get_a_window() -> None:
    """A Spanish number in three groups, and groups after a key or a field written tight,
    have no token of four digits, yet are scanned."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    for text in ["Móvil: 612 345 678", "Tel:+34 612 345 678", "Ana|Ruiz|tel:612 34 56 78|Lugo"]:
        assert scan._all_pieces([Example(1, (text,))], False) == [(1, text)]


def test_long_tokens_without_candidates_give_no_window() -> None:
    """A long token with three digits and no ``@`` is no candidate (and is read once)."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    token = "x" * 5_000 + "1.2.3" + "y" * 5_000
    assert scan._all_pieces([Example(1, (token + " a4b5c6d7",))], False) == [
        (1, token[-39:] + " a4b5c6d7")
    ]

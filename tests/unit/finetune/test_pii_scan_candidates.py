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

_CHARS = st.sampled_from(
    [*"ab@.-_/:+0123456789 \t\n", "\u00a0", "\u2003", "\u3000", "\uff11", "\u0663", "é"]
)


def _starts_digit_groups(text: str, tokens: list[re.Match[str]], index: int) -> bool:
    """Token ``index`` is 1-4 digits (a ``+`` before them allowed), then two more such
    tokens and one starting with a digit follow, each after a single space."""
    run = tokens[index : index + 4]
    if len(run) < 4 or not _GROUP.fullmatch(run[0].group().removeprefix("+")):
        return False
    if any(text[a.end() : b.start()] != " " for a, b in itertools.pairwise(run)):
        return False
    return all(_GROUP.fullmatch(t.group()) for t in run[1:3]) and run[3].group()[0] in "0123456789"


@settings(max_examples=300, deadline=None)
@given(st.text(_CHARS, max_size=80))
def test_candidate_tokens_are_the_backtracking_patterns(text: str) -> None:
    """The anchored candidate pattern matches the spans the backtracking one matched, and
    the tokens starting four space-split digit groups, whatever the mix of spaces,
    digits, ``@`` and non-ASCII characters."""
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


def test_long_tokens_without_candidates_give_no_window() -> None:
    """A long token with three digits and no ``@`` is no candidate (and is read once)."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    token = "x" * 5_000 + "1.2.3" + "y" * 5_000
    assert scan._all_pieces([Example(1, (token + " a4b5c6d7",))], False) == [
        (1, token[-39:] + " a4b5c6d7")
    ]

"""The scan's candidate windows: the anchored token pattern finds what the backtracking
one found."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_scan
from gateway.finetune.examples import Example
from gateway.finetune.pii_scan import PiiScan

_BACKTRACKING_CANDIDATE = re.compile(r"\S*@\S*|\S*(?:[0-9]\S*){4}")
"""The candidate pattern before it was anchored: the reference for the equivalence."""

_CHARS = st.sampled_from(
    [*"ab@.-_/:+0123456789 \t\n", "\u00a0", "\u2003", "\u3000", "\uff11", "\u0663", "é"]
)


@settings(max_examples=300, deadline=None)
@given(st.text(_CHARS, max_size=80))
def test_candidate_tokens_are_the_backtracking_patterns(text: str) -> None:
    """The anchored candidate pattern matches the same spans as the backtracking one,
    whatever the mix of spaces, digits, ``@`` and non-ASCII characters."""
    ours = [m.span() for m in pii_scan._CANDIDATE.finditer(text)]
    reference = [m.span() for m in _BACKTRACKING_CANDIDATE.finditer(text)]
    assert ours == reference


def test_long_tokens_without_candidates_give_no_window() -> None:
    """A long token with three digits and no ``@`` is no candidate (and is read once)."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    token = "x" * 5_000 + "1.2.3" + "y" * 5_000
    assert scan._all_pieces([Example(1, (token + " a4b5c6d7",))], False) == [
        (1, token[-39:] + " a4b5c6d7")
    ]

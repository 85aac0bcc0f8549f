"""Which of a call's results Presidio's context enhancer can change, found cheaply.

The enhancer (``LemmaContextAwareEnhancer``) raises a result's score when one of its
recognizer's context words ("ip", "license"...) is a substring of a keyword among the
few words before the match. On digit-dense text nearly every window has a weak match
(a version read as an IP address, "Q3" as a licence), and finding those words means
tokenising, lemmatising and filtering the whole text: most of the enhancer's cost,
although for most results no context word is anywhere near.

In the pattern lane (``gateway.finetune.pii_patterns``: tokens never hold whitespace,
texts joined by a fence of six keywords, more than the enhancer looks back over), the
words the enhancer reads for a match lie between the last fence before its token and
the next fence after it (it also reads forward to the first keyword from the match's own
token). If no context word of the recognizer occurs in that stretch of the text
(lower-cased as the enhancer lowers its keywords), the enhancer cannot change the
result, and it is left out; the others go to the enhancer as before. Scores are Presidio's own
(``tests/unit/finetune/test_pii_context.py`` checks this on generated text).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

_RUNS = re.compile(r"\S+")
_RECOGNIZER_ID = "recognizer_identifier"  # RecognizerResult.RECOGNIZER_IDENTIFIER_KEY


def changeable(
    text: str,
    results: list[Any],
    recognizers: list[Any],
    fence: str,
    context: list[str] | None = None,
) -> list[Any]:
    """The results (in order) whose score the enhancer may change: those whose
    recognizer has context words and one of them occurs before the match in its text.
    Linear in the text plus log-time per result (the text is indexed once)."""
    if context:
        return list(results)  # words given for the whole call count for every result
    by_id = {recognizer.id: recognizer for recognizer in recognizers}
    candidates = []
    for result in results:
        metadata = result.recognition_metadata or {}
        recognizer = by_id.get(metadata.get(_RECOGNIZER_ID))
        if recognizer is not None and recognizer.context:
            candidates.append((result, [str(word).lower() for word in recognizer.context]))
    if not candidates:
        return []  # the enhancer skips results without context words too
    index = _Index(text, fence)
    return [result for result, words in candidates if index.may_change(result.start, words)]


class _Index:
    """Where each whitespace-free run ends, where fences start and where each context
    word occurs, in the text lowered as the enhancer lowers its keywords (three times:
    lemma, keyword, match)."""

    def __init__(self, text: str, fence: str) -> None:
        lowered = text.lower().lower().lower()
        # Each character lowered to one: positions in both agree, and an ASCII word in
        # a lowered token is at the same place in the lowered text.
        self._aligned = len(lowered) == len(text)
        self._lowered = lowered
        self._run_ends = [match.end() for match in _RUNS.finditer(text)]
        self._fence = fence
        self._fences = _starts(text, fence)
        self._words: dict[str, list[int]] = {}

    def may_change(self, start: int, words: list[str]) -> bool:
        if not self._aligned or not all(word.isascii() for word in words):
            return True  # the argument above needs both
        run = bisect.bisect_right(self._run_ends, start)
        if run == len(self._run_ends):
            return True  # no token at the match: the enhancer's own error
        end = self._run_ends[run]
        # The last fence wholly before ``end`` (``str.rfind``'s answer): the enhancer's
        # walk back over keywords stops inside it at the latest.
        fence = bisect.bisect_right(self._fences, end - len(self._fence)) - 1
        begin = self._fences[fence] if fence >= 0 else 0
        # Forward, the walk takes the first keyword at or after the match's token
        # (Presidio counts the match's own token as one of its words): it stops inside
        # the next fence at the latest.
        after = bisect.bisect_left(self._fences, start)
        end = (
            self._fences[after] + len(self._fence)
            if after < len(self._fences)
            else len(self._lowered)
        )
        return any(self._occurs(word, begin, end) for word in words)

    def _occurs(self, word: str, begin: int, end: int) -> bool:
        """Whether ``word`` occurs wholly within ``[begin, end)``."""
        starts = self._words.get(word)
        if starts is None:
            starts = self._words[word] = _starts(self._lowered, word)
        found = bisect.bisect_left(starts, begin)
        return found < len(starts) and starts[found] + len(word) <= end


def _starts(text: str, word: str) -> list[int]:
    """Every position ``word`` starts at in ``text``, overlapping ones included."""
    found: list[int] = []
    if not word:
        return found
    at = text.find(word)
    while at >= 0:
        found.append(at)
        at = text.find(word, at + 1)
    return found

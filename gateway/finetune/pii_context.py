"""Which of a call's results Presidio's context enhancer can change, found cheaply.

The enhancer (``LemmaContextAwareEnhancer``) raises a result's score when one of its
recognizer's context words ("ip", "license"...) is a substring of a keyword among the
few words before the match. On digit-dense text nearly every window has a weak match
(a version read as an IP address, "Q3" as a licence), and finding those words means
tokenising, lemmatising and filtering the whole text: most of the enhancer's cost,
although for most results no context word is anywhere near.

In the pattern lane (``gateway.finetune.pii_patterns``: tokens never hold whitespace,
texts joined by a fence of six keywords, more than the enhancer looks back over), the
words the enhancer reads for a match lie between the last fence before it and the end
of the whitespace-free run holding the match's first character. If no context word of
the recognizer occurs in that stretch of the text (lower-cased as the enhancer lowers
its keywords), the enhancer cannot change the result, and it is left out; the others
go to the enhancer as before. Scores are Presidio's own
(``tests/unit/finetune/test_pii_context.py`` checks this on generated text).
"""

from __future__ import annotations

import re
from typing import Any

_RUN = re.compile(r"\s*\S+")
_RECOGNIZER_ID = "recognizer_identifier"  # RecognizerResult.RECOGNIZER_IDENTIFIER_KEY


def changeable(
    text: str,
    results: list[Any],
    recognizers: list[Any],
    fence: str,
    context: list[str] | None = None,
) -> list[Any]:
    """The results (in order) whose score the enhancer may change: those whose
    recognizer has context words and one of them occurs before the match in its text."""
    if context:
        return list(results)  # words given for the whole call count for every result
    by_id = {recognizer.id: recognizer for recognizer in recognizers}
    lowered: dict[tuple[int, int], str] = {}
    kept = []
    for result in results:
        metadata = result.recognition_metadata or {}
        recognizer = by_id.get(metadata.get(_RECOGNIZER_ID))
        if recognizer is None or not recognizer.context:
            continue  # the enhancer skips these too
        words = [str(word).lower() for word in recognizer.context]
        if not all(word.isascii() for word in words):
            kept.append(result)  # the argument below holds for ASCII words
            continue
        run = _RUN.match(text, result.start)
        if run is None:
            kept.append(result)  # no token at the match: the enhancer's own error
            continue
        begin = text.rfind(fence, 0, run.end())
        stretch = (max(begin, 0), run.end())
        if stretch not in lowered:
            # The enhancer lowers a token three times over (lemma, keyword, match);
            # an ASCII word in such a token is in the same lowering of the stretch.
            lowered[stretch] = text[stretch[0] : stretch[1]].lower().lower().lower()
        if any(word in lowered[stretch] for word in words):
            kept.append(result)
    return kept

"""Identifiers that only their label tells apart from any other number.

An SSN written without separators ("SSN: 536228726") or a US passport number is nine
digits, like an order or a customer number. Presidio's patterns for them score 0.05,
raised to 0.4 by a context word anywhere in the five words before ("social", "security",
"us", "travel"...): too weak to act on in an upload, and too loose to raise (a
"security patch" or "social media" reach count is no SSN). Here the label itself comes
right before the number, on its line ("SSN: 536228726", "Social Security No. 536228726",
"passport number is 912803456"), which names the number as surely as the separators
of "536-22-8726" do.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from gateway.pii.presidio_import import import_presidio
from gateway.pii.types import PiiSpan

LABELLED_SCORE = 0.85
_LABELLED = re.compile(
    r"(?<![^\W\d_])(?:(?P<ssn>ssn|ss\#|social[ \t]+security|soc\.?[ \t]*sec\.?)"
    r"|(?P<passport>passport))"
    r"(?:[ \t]*(?:number|num\.?|no\.?|nr\.?|\#))?[ \t]*(?:(?:is|was)[ \t]+|[:=\#-][ \t]*)?"
    r"(?P<value>[A-Z]?[0-9]{8,9})(?![\w-])",
    re.IGNORECASE,
)
_PASSPORT = re.compile(r"[0-9]{9}|[A-Z][0-9]{8}")
_LABEL_HINT = re.compile(r"ssn|ss#|soc|passport", re.IGNORECASE)
LABELLED_TYPES = frozenset({"US_SSN", "US_PASSPORT"})


def find_labelled_ids(text: str, kinds: frozenset[str] = LABELLED_TYPES) -> list[PiiSpan]:
    """SSNs and US passport numbers (of ``kinds``) written right after their label."""
    if not _LABEL_HINT.search(text):
        return []
    found: list[PiiSpan] = []
    for match in _LABELLED.finditer(text):
        value = match.group("value")
        if match.group("ssn"):
            kind = "US_SSN"
            if not (value.isdigit() and len(value) == 9) or _ssn_recognizer().invalidate_result(
                value
            ):
                continue
        elif _PASSPORT.fullmatch(value):
            kind = "US_PASSPORT"
        else:
            continue
        if kind not in kinds:
            continue
        start = match.start("value")
        found.append(PiiSpan(type=kind, start=start, end=match.end(), score=LABELLED_SCORE))
    return found


@functools.cache
def _ssn_recognizer() -> Any:
    """Presidio's SSN recognizer, for its check of numbers the SSA never issues."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers import UsSsnRecognizer

    return UsSsnRecognizer()

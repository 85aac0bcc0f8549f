"""Presidio's pattern recognizers, each pattern run only where it can match.

A recognizer runs every one of its regexes over the whole text on every call; on the
pattern lane's short windows most of them cannot match at all (the IPv6 patterns need a
``:``, the passport and bank patterns eight digits in a row...), yet the IPv6 and
licence patterns cost more than the rest together. For some patterns a much cheaper
*necessary condition* is known: a regex that matches inside every match of the pattern
(``CONDITIONS``). Where the condition finds nothing in the text, the pattern cannot match
and is left out of that call; where it finds something, the pattern runs as Presidio
runs it. The results (spans, scores, order) are Presidio's own
(``tests/unit/finetune/test_pii_prefilter.py`` checks both claims on generated text).

With a *floor* (the upload scan's minimum score: it reports nothing below it), a
pattern whose results cannot reach the floor is not run at all, and one whose results
reach it only with a context word ("license", "ssn") runs only where one of its
recognizer's context words occurs in the text. Its recognizer must not validate (a
checksum can raise a score to 1.0); the context enhancer raises a score to at most
``max(score + factor, min_with_context)``, and only for a keyword of the text holding a
context word. Results at or above the floor are then Presidio's own; only results
below it are missing, which the scan drops anyway.

The recognizers of one call share their conditions' answers (``TextChecks``): the bank
and both passport patterns want the same eight digits, and on digit-dense business text
one search for six digits in a row (``_SIX_DIGITS``), which most of its windows lack,
answers the five conditions that need them. Each search is a scan of the whole text,
and the conditions were an eighth of the lane's time on such text.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_COLON = ":"
_ALNUM_RUN = r"[^\W_]{26}"
"""26 letters or digits in a row, in any script: every character of the crypto pattern's
class is one, whatever the recognizer's flags (case folding maps "k" to the Kelvin sign,
still a letter). The class itself under ``regex``'s IGNORECASE cost four times the
pattern it guards; this one, in the standard ``re``, a tenth of that."""
_ALNUM_RUN_LENGTH = 26
_PLAIN = frozenset({_COLON, "@"})
"""Conditions that are a literal character."""
_STDLIB = frozenset({_ALNUM_RUN})
"""Conditions found by the standard ``re`` without the recognizer's flags (they hold
under any of them): ``alnum_run``."""


def alnum_run(text: str) -> bool:
    """Whether ``text`` holds ``_ALNUM_RUN``. Such a run holds no whitespace, so first
    (in C, several times faster than the search on digit-dense text): is any
    whitespace-free token that long?"""
    if max(map(len, text.split()), default=0) < _ALNUM_RUN_LENGTH:
        return False
    return _ALNUM_RUN_PATTERN.search(text) is not None


_ALNUM_RUN_PATTERN = re.compile(_ALNUM_RUN)
CONDITIONS: dict[tuple[str, str], str] = {
    # Every alternative of these patterns holds a literal ":".
    ("IpRecognizer", "IPv4_mapped"): _COLON,
    ("IpRecognizer", "IPv4_embedded"): _COLON,
    ("IpRecognizer", "IPv6"): _COLON,
    ("IpRecognizer", "IPv6_unspecified"): _COLON,
    # ``[@]`` between the local part and the domain.
    ("OfflineEmailRecognizer", "Email (Medium)"): "@",
    # ``\b[0-9]{8,17}\b``
    ("UsBankRecognizer", "Bank Account (weak)"): "[0-9]{8}",
    # ``\b([0-9]{6,14}|[0-9]{16})\b``
    ("UsLicenseRecognizer", "Driver License - Digits (very weak)"): "[0-9]{6}",
    # ``(\b[0-9]{9}\b)`` and ``(\b[A-Z][0-9]{8}\b)``
    ("UsPassportRecognizer", "Passport (very weak)"): "[0-9]{8}",
    ("UsPassportRecognizer", "Passport Next Generation (very weak)"): "[0-9]{8}",
    # ``[A-Z...][a-zA-Z]\d{7}|[A-Z...]9\d{7}``
    ("MedicalLicenseRecognizer", "USA DEA Certificate Number (weak)"): r"\d{7}",
    # ``(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}``: 26 characters of the class in a row.
    ("CryptoRecognizer", "Crypto (Medium)"): _ALNUM_RUN,
    # ``\b([0-9]{5})-([0-9]{4})\b``, ``\b([0-9]{3})-([0-9]{6})\b``,
    # ``\b(([0-9]{3})-([0-9]{2})-([0-9]{4}))\b``, ``\b[0-9]{9}\b``
    ("UsSsnRecognizer", "SSN1 (very weak)"): "[0-9]{5}-",
    ("UsSsnRecognizer", "SSN2 (very weak)"): "-[0-9]{6}",
    ("UsSsnRecognizer", "SSN3 (very weak)"): "[0-9]{2}-[0-9]{4}",
    ("UsSsnRecognizer", "SSN4 (very weak)"): "[0-9]{9}",
}
"""(recognizer class, pattern name) -> a regex found inside every match of that pattern,
compiled with the recognizer's own flags (same character classes and case folding), but
for ``_PLAIN`` and ``_STDLIB`` ones.
Keyed by name: an upgrade of Presidio that changes a pattern is caught by the tests."""


_SIX_DIGITS = r"\d{6}"
_NEEDS_SIX_DIGITS = frozenset({"[0-9]{6}", "[0-9]{8}", "[0-9]{9}", "-[0-9]{6}", r"\d{7}"})
"""Conditions every match of which holds six decimal digits in a row (``regex``'s
``\\d``, which holds the ASCII ones; no character case-folds to a digit): where
``_SIX_DIGITS`` finds none, none of them holds."""


class TextChecks:
    """The conditions' answers for the text being analysed, shared by the recognizers of
    one lane (Presidio hands each the same text object), one text per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def answer(self, key: tuple[str, int], text: str, check: Callable[[str], bool]) -> bool:
        """``check(text)``, asked once per ``key`` for the same text."""
        local = self._local
        if getattr(local, "text", None) is not text:
            local.text, local.answers = text, {}
        answers: dict[tuple[str, int], bool] = local.answers
        found = answers.get(key)
        if found is None:
            found = answers[key] = check(text)
        return found


def condition(
    recognizer: Any, pattern: Any, shared: TextChecks | None = None
) -> Callable[[str], bool] | None:
    """Whether ``pattern`` of ``recognizer`` can match in a text, cheaply; None if no
    condition is known (the pattern always runs). ``shared``: answers shared with the
    other recognizers' conditions on the same text."""
    known = CONDITIONS.get((type(recognizer).__name__, pattern.name))
    if known is None:
        return None
    if known in _PLAIN:
        return lambda text: known in text
    if known == _ALNUM_RUN:
        return alnum_run
    import regex  # type: ignore[import-untyped]  # Presidio's regex engine

    flags: int = recognizer.global_regex_flags
    compiled = regex.compile(known, flags=flags)

    def search(text: str) -> bool:
        return compiled.search(text) is not None

    if shared is None:
        return search
    checks = shared
    if known not in _NEEDS_SIX_DIGITS:
        return lambda text: checks.answer((known, flags), text, search)
    six = regex.compile(_SIX_DIGITS, flags=flags)

    def six_digits(text: str) -> bool:
        return six.search(text) is not None

    return lambda text: (
        checks.answer((_SIX_DIGITS, flags), text, six_digits)
        and checks.answer((known, flags), text, search)
    )


@dataclass(frozen=True, slots=True)
class Floor:
    """Results below ``score`` are not wanted; the context enhancer's parameters say how
    far a score can rise."""

    score: float
    factor: float
    """``context_similarity_factor``: added for a context word."""
    with_context: float
    """``min_score_with_context_similarity``: the least score with a context word."""

    def reach(self, score: float, context: bool) -> bool:
        """Whether a result of ``score`` (unvalidated) can reach the floor, with a
        context word (``context``) or without. Compared as the scan compares: the
        score rounded to 4 places (``presidio_spans``)."""
        if context:
            score = min(max(score + self.factor, self.with_context), 1.0)
        return round(score, 4) >= self.score


def floor_condition(recognizer: Any, pattern: Any, floor: Floor) -> Callable[[str], bool] | None:
    """Whether ``pattern`` can give a result at or above ``floor`` in a text: never, only
    where one of the recognizer's context words occurs, or None (always)."""
    from presidio_analyzer import PatternRecognizer

    if type(recognizer).validate_result is not PatternRecognizer.validate_result:
        return None  # a validated result may score 1.0
    if floor.reach(pattern.score, context=False):
        return None
    words = [str(word).lower() for word in recognizer.context or []]
    if not floor.reach(pattern.score, context=True) or not words:
        return lambda text: False
    if not all(word.isascii() for word in words):
        return None

    # The enhancer's keywords are tokens lower-cased (three times, as ``pii_context``
    # explains), each an ASCII context word inside one is inside the text lowered so.
    def near(text: str) -> bool:
        lowered = text.lower().lower().lower()
        return any(word in lowered for word in words)

    return near


def prefilter(
    recognizer: Any, floor: Floor | None = None, shared: TextChecks | None = None
) -> bool:
    """Make ``recognizer`` (a Presidio ``PatternRecognizer``) run, on each call, only the
    patterns whose condition holds in the text; the same results as before (at or
    above ``floor``, when given). False (and nothing changed) when it is not a plain
    pattern recognizer or no condition is known for any of its patterns. ``shared``:
    the conditions' answers shared with the other recognizers given the same one."""
    from presidio_analyzer import PatternRecognizer

    analyze = type(recognizer).analyze
    if not isinstance(recognizer, PatternRecognizer) or analyze is not PatternRecognizer.analyze:
        return False
    patterns: list[Any] = getattr(recognizer, "patterns", [])
    checks = [
        (
            pattern,
            _both(
                condition(recognizer, pattern, shared),
                floor_condition(recognizer, pattern, floor) if floor else None,
            ),
        )
        for pattern in patterns
    ]
    if all(check is None for _, check in checks):
        return False
    # One shallow copy per subset of patterns: same id, name, context and validation, so
    # its results are those the recognizer gives when the left-out patterns find nothing.
    variants: dict[tuple[bool, ...], Any] = {}

    def run(
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[Any]:
        keep = tuple(check is None or check(text) for _, check in checks)
        if not any(keep):
            return []
        variant: Any = recognizer if all(keep) else variants.get(keep)
        if variant is None:
            variant = copy.copy(recognizer)
            variant.__dict__.pop("analyze", None)
            variant.patterns = [p for (p, _), kept in zip(checks, keep, strict=True) if kept]
            variants[keep] = variant
        found: list[Any] = analyze(variant, text, entities, nlp_artifacts, regex_flags)
        return found

    recognizer.analyze = run  # type: ignore[method-assign]
    return True


def _both(
    first: Callable[[str], bool] | None, second: Callable[[str], bool] | None
) -> Callable[[str], bool] | None:
    if first is None or second is None:
        return first or second
    return lambda text: first(text) and second(text)

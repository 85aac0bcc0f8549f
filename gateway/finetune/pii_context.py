"""Context words in the fine-tune lane: whole words just before a match, found cheaply.

Presidio's context enhancer (``LemmaContextAwareEnhancer``) raises a result's score by
0.35 (to at least 0.4) when one of its recognizer's context words is a *substring* of a
keyword near the match: "ip" counts inside "pip", "zip", "ship", "script" and
"multiple", so ``pip install x==3.19.3.211`` reads as an IP address with context, and
"lic" counts inside "public" and "duplicate". Finding those keywords also means
tokenising and filtering the whole text of every call: most of the lane's enhancer cost.

The lane departs from Presidio here, by a rule a security team can read: **a context
word counts when a word among the match's own token and the five words before it equals
it or starts with it.** Words are the lane's tokens (an address, a number or an
identifier stays one token), stop words and punctuation skipped as Presidio skips them;
each is lower-cased and split at anything not a letter or digit, so "server_ip",
"ip:10.0.0.1" and "IPs" hold "ip", and "pip" does not. A context word of several words
("health authority") counts when those words are consecutive there. The score then
rises as Presidio raises it. The walk back reads a few hundred characters at most (the
fence between joined texts holds six words, so it never reaches another text).
``tests/unit/finetune/test_pii_context.py`` checks this scan against the rule applied to
the whole tokenised text, and shows where it departs from Presidio.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

PREFIX_WORDS = 5
"""Words before the match read for context (Presidio's ``context_prefix_count``)."""
TOKEN = re.compile(r"\w[\w.@:/+'-]*\w|\w|[^\w\s]")
"""The lane's tokens: close to spaCy's where it matters for context (an address, number or
identifier stays one token; surrounding punctuation is split off)."""
PARTS_CACHE_SIZE = 4_096
"""Distinct tokens whose parts are remembered (context words and the words around
identifiers recur)."""
_PARTS = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S+")
_LOOK_BACK = 96
"""Characters read back first; doubled until enough words are found."""
_RECOGNIZER_ID = "recognizer_identifier"  # RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
_ENHANCED = "is_score_enhanced_by_context"  # RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY


@functools.cache
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # a word list; no model is loaded

    return frozenset(STOP_WORDS)


@functools.lru_cache(maxsize=PARTS_CACHE_SIZE)
def is_word(token: str) -> bool:
    """Whether a token counts as a word: not punctuation alone, not a stop word (nor
    "be", which Presidio drops too)."""
    lowered = token.lower()
    return any(c.isalnum() for c in token) and lowered not in _stop_words() and lowered != "be"


@functools.lru_cache(maxsize=PARTS_CACHE_SIZE)
def parts(token: str) -> tuple[str, ...]:
    """A token's lower-cased letter-and-digit runs: "Server_IP:10.0.0.1" -> server, ip,
    10, 0, 0, 1."""
    return tuple(_PARTS.findall(token.lower()))


MAX_LOOK_BACK = 256
"""Context words are read at most this far before a match: in a run of thousands of
matches without a space (``a@ex.co,a@ex.co,...``) reading back to its start for each
match would make the scan quadratic."""


def context_parts(text: str, start: int) -> list[str]:
    """The parts of the ``PREFIX_WORDS`` words before the match's own token (the first
    token ending after ``start``) and of that token, in text order."""
    floor = max(0, start - MAX_LOOK_BACK)
    run = _run_start(text, start, floor)
    own: re.Match[str] | None = None
    before: list[str] = []
    for match in TOKEN.finditer(text, run):
        if match.end() > start:
            own = match
            break
        before.append(match.group())
    words = [token for token in reversed(before) if is_word(token)]
    # Read back from the run holding the match, a stretch at a time, each stretch
    # starting after a whitespace (tokens hold none, so none is cut).
    end, back = run, _LOOK_BACK
    while len(words) < PREFIX_WORDS and end > floor:
        lo = max(floor, end - back)
        back *= 2
        if lo > floor:
            space = _SPACE.search(text, lo, end)
            if space is None:
                continue  # inside one long run: read further back
            lo = space.end()
        stretch = [match.group() for match in TOKEN.finditer(text, lo, end)]
        for token in reversed(stretch):
            if len(words) == PREFIX_WORDS:
                break
            if is_word(token):
                words.append(token)
        end = lo
    found = [part for word in reversed(words[:PREFIX_WORDS]) for part in parts(word)]
    if own is not None:
        found.extend(parts(own.group()))
    return found


def _run_start(text: str, at: int, floor: int = 0) -> int:
    """Where the whitespace-free run holding (or ending at) ``at`` begins, or ``floor``."""
    while at > floor and not text[at - 1].isspace():
        at -= 1
    return at


def in_reach(text: str, start: int, lasts: Sequence[str]) -> bool:
    """Whether one of ``lasts`` (ASCII, lower-case) occurs in the stretch ``context_parts``
    reads for a match at ``start``: from ``MAX_LOOK_BACK`` before it to the end of the
    first run of non-spaces at or after it. Every part it returns is lower-cased from a
    token inside that stretch, so a context word whose last part occurs in none can
    count for no part: a cheap test before the walk back, which most matches in
    digit-dense text (version numbers read as IP addresses) fail."""
    after = _NON_SPACE.search(text, start)
    stretch = text[max(0, start - MAX_LOOK_BACK) : after.end() if after else len(text)].lower()
    return any(last in stretch for last in lasts)


@functools.lru_cache(maxsize=256)
def last_parts(context: tuple[str, ...]) -> tuple[str, ...] | None:
    """The last part of each context word (the one ``supports`` matches as a word start),
    or None where one is not ASCII (lower-casing a whole stretch could then differ
    from lower-casing its tokens one by one)."""
    found = [parts(word) for word in context]
    if not all(word.isascii() for word in context):
        return None
    return tuple(wanted[-1] for wanted in found if wanted)


def supports(found: Sequence[str], context: Iterable[str]) -> str | None:
    """The first context word some part equals or starts with (a context word of several
    words: consecutive parts, the last one starting with its last word), or None."""
    for word in context:
        wanted = parts(str(word))
        size = len(wanted)
        if size == 0:
            continue
        for at in range(len(found) - size + 1):
            if found[at + size - 1].startswith(wanted[-1]) and all(
                found[at + i] == wanted[i] for i in range(size - 1)
            ):
                return str(word)
    return None


def enhance(
    text: str,
    results: list[Any],
    recognizers: list[Any],
    factor: float,
    least: float,
    context: list[str] | None = None,
) -> list[Any]:
    """Raise, in place, the score of each result a context word supports (``factor``
    added, at least ``least``, at most 1), as Presidio's enhancer does; ``context``:
    words given for the whole call, which count for every result."""
    by_id = {recognizer.id: recognizer for recognizer in recognizers}
    extra = [part for word in context or [] for part in parts(word)]
    for result in results:
        metadata = result.recognition_metadata or {}
        recognizer = by_id.get(metadata.get(_RECOGNIZER_ID))
        if recognizer is None or not recognizer.context or metadata.get(_ENHANCED):
            continue
        lasts = None if extra else last_parts(tuple(str(word) for word in recognizer.context))
        if lasts is not None and not in_reach(text, result.start, lasts):
            continue
        word = supports([*context_parts(text, result.start), *extra], recognizer.context)
        if word is None:
            continue
        result.score = min(max(result.score + factor, least), 1.0)
        if result.analysis_explanation is not None:
            result.analysis_explanation.set_supportive_context_word(word)
            result.analysis_explanation.set_improved_score(result.score)
    return results

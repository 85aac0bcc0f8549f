"""``phonenumbers``' ``PhoneNumberMatcher`` at "possible" leniency, each candidate judged once.

The matcher finds candidates with one regex, then parses every candidate (and groups
inside it) with ``phonenumbers.parse``: on digit-dense text (dates, versions, amounts)
nearly all of the phone recognizer's time. A candidate's verdict depends only on its own
characters, the region and, for a time stamp, whether ":MM" follows it; the same dates,
versions and amounts recur across an upload, so the verdict is remembered per candidate
(``CANDIDATE_CACHE_SIZE``). Most candidates in such text are too short to be a number
of the region at all (years, amounts, versions): those are settled without parsing
(``_too_short``), with the tries the matcher would have spent on them. The search
itself is ``PhoneNumberMatcher._find``'s loop, including its budget of failed tries:
where the budget could run out, the matcher itself runs instead. Matches are the
matcher's own: same spans, same order (``tests/unit/pii/test_phone_matcher.py`` checks
this on generated text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

CANDIDATE_CACHE_SIZE = 65_536
"""Distinct (candidate, region) verdicts remembered (~10 MB when full)."""
MAX_TRIES = 65_535
"""``PhoneNumberMatcher``'s default budget of failed tries per text."""
TRIES_PER_CHAR = 13
"""At most this many failed tries per character of a text: candidates do not overlap,
and ``_extract_inner_match`` tries each of its six patterns at increasing positions of
a candidate, at most two tries each, so a candidate costs at most twelve per character
and one more for itself. In a text shorter than ``MAX_TRIES / TRIES_PER_CHAR`` (the
fine-tune lane's windows) the budget cannot run out, so failed tries need no count."""

Match = tuple[int, int, bool]
"""Start, end and whether ``phonenumbers.is_valid_number`` holds."""


@functools.cache
def _matcher_module() -> Any:
    from phonenumbers import phonenumbermatcher

    return phonenumbermatcher


def phone_matches(
    text: str, region: str, passed_over: Callable[[str], bool] | None = None
) -> list[Match]:
    """``PhoneNumberMatcher(text, region, leniency=POSSIBLE)``'s matches, in order: where,
    and whether each number is valid.

    ``passed_over``: candidates the caller has no use for a match of, as a whole (a date:
    whatever ``phonenumbers`` says of "2026-03-14", it is no phone). Such a candidate is
    passed over unparsed where its match could only be the whole candidate
    (``_whole_or_none``); the search goes on after it as after a match of it, so the
    other matches are the matcher's own. Not where failed tries are counted."""
    module = _matcher_module()
    pattern, second_start = module._PATTERN, module._SECOND_NUMBER_START_PATTERN
    time_stamps, time_stamps_suffix = module._TIME_STAMPS, module._TIME_STAMPS_SUFFIX
    found: list[Match] = []
    tries = MAX_TRIES
    counted = len(text) * TRIES_PER_CHAR >= MAX_TRIES
    index = 0
    while True:
        # ``PhoneNumberMatcher._find(index)``, with each candidate's verdict remembered.
        match = pattern.search(text, index)
        hit: Match | None = None
        while tries > 0 and match is not None:
            start = match.start()
            candidate = text[start : match.end()]
            trailing = second_start.search(candidate)
            if trailing:
                candidate = candidate[: trailing.start()]
            if candidate:
                if time_stamps.search(candidate) and time_stamps_suffix.match(
                    text[start + len(candidate) :]
                ):
                    verdict, used = None, 0  # a time stamp: skipped, no inner tries
                elif (
                    passed_over is not None
                    and not counted
                    and passed_over(candidate)
                    and _whole_or_none(candidate)
                ):
                    verdict, used = None, 0  # no match of the whole is wanted
                else:
                    verdict, spent = _verdict(candidate, region)
                    used = spent if spent is not None else 0
                    if spent is None and counted:
                        used = _failed_tries(candidate)
                    if used >= tries:
                        return _slow(text, region)  # the budget could run out inside
                tries -= used
                if verdict is not None:
                    hit = (start + verdict[0], start + verdict[1], verdict[2])
                    break
                tries -= 1
            index = start + len(candidate)
            match = pattern.search(text, index)
        if hit is None:
            return found
        found.append(hit)
        index = hit[1]


@functools.lru_cache(maxsize=CANDIDATE_CACHE_SIZE)
def _verdict(candidate: str, region: str) -> tuple[Match | None, int | None]:
    """``PhoneNumberMatcher._extract_match`` for ``candidate`` alone (no time stamp
    suffix: the caller checked), as offsets in the candidate, and how many failed tries
    it spent on inner groups (None: not counted, for a candidate settled as too short:
    ``_failed_tries`` counts them where the budget matters)."""
    if _too_short(candidate, region):
        return None, None
    import phonenumbers

    matcher = phonenumbers.PhoneNumberMatcher(
        candidate, region, leniency=phonenumbers.Leniency.POSSIBLE, max_tries=MAX_TRIES
    )
    result = matcher._extract_match(candidate, 0)
    used = MAX_TRIES - matcher._max_tries
    if result is None:
        return None, used
    return (result.start, result.end, phonenumbers.is_valid_number(result.number)), used


@functools.lru_cache(maxsize=CANDIDATE_CACHE_SIZE)
def _whole_or_none(candidate: str) -> bool:
    """Whether ``PhoneNumberMatcher._extract_match`` can only match ``candidate`` whole:
    none of its inner-group patterns (a slash, a bracket, a spaced or wide hyphen, a full
    stop, a space) occurs in it, so no group inside it is tried."""
    return not any(inner.search(candidate) for inner in _matcher_module()._INNER_MATCHES)


def _too_short(candidate: str, region: str) -> bool:
    """Whether no part of ``candidate`` can parse as a possible number of ``region``,
    by counting digits: every part the matcher tries (the candidate, then groups inside
    it) is a substring, and without a plus sign, an international prefix or letters
    (which ``phonenumbers`` reads as keypad digits) a number parsed from it has the
    region's own calling code and a national number of at most its digits. If that
    is fewer than the shortest length the region's metadata calls possible, the
    matcher's "possible" test fails for every part. ASCII text only (other scripts'
    digits are left to the matcher)."""
    if not candidate.isascii() or "+" in candidate:
        return False
    digits = "".join(_NOT_DIGIT.split(candidate))
    if len(digits) >= _shortest(region) or any(c.isalpha() for c in candidate):
        return False
    return _international_prefix(region).search(digits) is None


_NOT_DIGIT = re.compile(r"[^0-9]+")


@functools.cache
def _shortest(region: str) -> int:
    """The fewest digits of a national number ``is_possible_number`` accepts for a
    number parsed in ``region`` (its calling code's main region's lengths, local-only
    ones included, as ``_test_number_length`` reads them); 0 where unknown."""
    import phonenumbers
    from phonenumbers import phonenumberutil

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    code = None if metadata is None else metadata.country_code
    if code is None:
        return 0
    main = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    desc = (
        None
        if main is None
        else phonenumberutil._number_desc_by_type(main, phonenumbers.PhoneNumberType.UNKNOWN)
    )
    if desc is None:
        return 0
    lengths = [*desc.possible_length, *desc.possible_length_local_only]
    if not lengths or min(lengths) < 1:
        return 0
    return min(lengths)


@functools.cache
def _international_prefix(region: str) -> re.Pattern[str]:
    """Where ``phonenumbers`` could strip ``region``'s international (IDD) prefix and
    read another calling code: such candidates are left to the matcher."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = None if metadata is None else metadata.international_prefix
    return re.compile(prefix if prefix else "(?!)")


@functools.lru_cache(maxsize=CANDIDATE_CACHE_SIZE)
def _failed_tries(candidate: str) -> int:
    """The failed tries ``PhoneNumberMatcher._extract_match`` spends on ``candidate``
    when no part of it parses: the same for every region."""
    import phonenumbers

    matcher = _failing_matcher()(
        candidate, "US", leniency=phonenumbers.Leniency.POSSIBLE, max_tries=MAX_TRIES
    )
    matcher._extract_match(candidate, 0)
    return MAX_TRIES - int(matcher._max_tries)


@functools.cache
def _failing_matcher() -> Any:
    """``PhoneNumberMatcher`` whose every parse fails: its search for inner groups alone."""
    import phonenumbers

    class FailingMatcher(phonenumbers.PhoneNumberMatcher):
        def _parse_and_verify(self, candidate: str, offset: int) -> None:
            return None

    return FailingMatcher


def _slow(text: str, region: str) -> list[Match]:
    """The matcher itself (where its budget of tries matters)."""
    import phonenumbers

    return [
        (found.start, found.end, phonenumbers.is_valid_number(found.number))
        for found in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.POSSIBLE
        )
    ]

"""The span type every PII module speaks, and which entity types are NER guesses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypedDict


class PiiSpan(TypedDict):
    """A PII finding, offsets relative to the analysed text."""

    type: str
    start: int
    end: int
    score: float


class SpanAnalyzer(Protocol):
    def load(self) -> None:
        """Make the next ``analyze`` fast; calling it again does nothing."""

    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """The spans found in each text, in order."""


# Guesses of a language model: weaker evidence than a validated pattern.
NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"})

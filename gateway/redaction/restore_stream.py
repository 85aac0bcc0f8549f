"""Restore placeholders in streamed text, holding back only what a split token needs.

A placeholder such as ``<PERSON_12>`` may arrive split over several deltas (``<PER``,
``SON_1``, ``2>``). The restorer emits everything that cannot be the start of a
placeholder at once and keeps the rest until it is complete or proven not to be one.
"""

from __future__ import annotations

import re

from gateway.redaction.placeholders import Placeholders

_PARTIAL = re.compile(r"<[A-Z0-9_]*\Z")
MAX_TOKEN_LENGTH = 64


class StreamRestorer:
    def __init__(self, placeholders: Placeholders, *, json_escaped: bool = False) -> None:
        self._placeholders = placeholders
        self._json_escaped = json_escaped
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        hold = _PARTIAL.search(text)
        if hold is not None and len(text) - hold.start() <= MAX_TOKEN_LENGTH:
            self._pending = text[hold.start() :]
            text = text[: hold.start()]
        else:
            self._pending = ""
        return self._placeholders.restore(text, json_escaped=self._json_escaped)

    @property
    def pending(self) -> bool:
        """Text is held back: it may be the start of a placeholder."""
        return bool(self._pending)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._placeholders.restore(text, json_escaped=self._json_escaped)

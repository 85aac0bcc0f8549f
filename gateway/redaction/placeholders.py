"""Typed placeholders, consistent within one conversation: the same value, the same token.

``<PERSON_1>`` stands for the first person seen in the request (caller messages first,
then retrieved chunks), ``<PERSON_2>`` for the second, and so on; numbering depends only
on the order of the content, so a replayed chat history gets the same tokens each turn.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")


class Placeholders:
    def __init__(self, hash_key: bytes) -> None:
        self._hash_key = hash_key
        self._token_by_value: dict[tuple[str, str], str] = {}
        self._value_by_token: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def replace(self, entity_type: str, value: str) -> str:
        key = (entity_type, value)
        token = self._token_by_value.get(key)
        if token is None:
            number = self._counts.get(entity_type, 0) + 1
            self._counts[entity_type] = number
            token = f"<{entity_type}_{number}>"
            self._token_by_value[key] = token
            self._value_by_token[token] = value
        return token

    def hashed(self, entity_type: str, value: str) -> str:
        """A keyed digest: stable for a deployment key, not reversible without it."""
        digest = hmac.new(self._hash_key, f"{entity_type}:{value}".encode(), hashlib.sha256)
        return f"<{entity_type}#{digest.hexdigest()[:12]}>"

    def restricted_to(self, sent: str) -> Placeholders:
        """Only the tokens that occur in ``sent`` (the exact upstream body).

        A value redacted from a chunk that the token budget then left out was never shown
        to the model, so a caller must not get it back by naming its token.
        """
        view = Placeholders(self._hash_key)
        # One pass over ``sent`` (not one search per token: 20k tokens in a 4 MB body
        # would be quadratic). JSON escaping never touches a token's characters.
        present = {match.group(0) for match in PLACEHOLDER.finditer(sent)}
        for token, value in self._value_by_token.items():
            if token in present:
                view._value_by_token[token] = value
        return view

    def __bool__(self) -> bool:
        return bool(self._value_by_token)

    def restore(self, text: str, *, json_escaped: bool = False) -> str:
        """Put originals back for every known token (unknown tokens stay as they are)."""

        def swap(match: re.Match[str]) -> str:
            value = self._value_by_token.get(match.group(0))
            if value is None:
                return match.group(0)
            return _json_escape(value) if json_escaped else value

        return PLACEHOLDER.sub(swap, text)


def _json_escape(value: str) -> str:
    return json.dumps(value)[1:-1]

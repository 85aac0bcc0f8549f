"""Review sessions: who signed in, until when, and the form token that guards sign-out.

An auditor signs in once with their API key or token (POSTed in a form, never in a URL);
the gateway keeps the resulting principal in memory under a random session id and gives
the browser only that id, in a cookie that is HttpOnly (no script can read it),
SameSite=Strict (no other site can make the browser send it), scoped to
``/admin/review`` and without Expires/Max-Age (a browser-session cookie: never written
to disk as a persistent cookie). Sessions end after ``IDLE_S`` without a page view or
``ABSOLUTE_S`` after sign-in, on sign-out, and when the gateway restarts. The key itself
is never stored: only the principal it authenticated.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from gateway.hashing import sha256_hex
from gateway.identity import Principal

IDLE_S = 15 * 60
ABSOLUTE_S = 60 * 60
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_token: str
    created: float
    last_seen: float


class SessionStore:
    """In-memory sessions of one gateway process, keyed by a digest of the session id."""

    def __init__(
        self,
        *,
        idle_s: float = IDLE_S,
        absolute_s: float = ABSOLUTE_S,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._idle_s = idle_s
        self._absolute_s = absolute_s
        self._max = max_sessions
        self._clock = clock

    def create(self, principal: Principal) -> tuple[str, Session]:
        """A new session for ``principal``: (the id for the cookie, the session)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(principal, secrets.token_urlsafe(32), now, now)
        self._sessions[_digest(session_id)] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)  # the oldest sign-in goes first
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        key = _digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle_s or now - session.created > self._absolute_s:
            del self._sessions[key]
            return None
        session = replace(session, last_seen=now)
        self._sessions[key] = session
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_digest(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf_token, presented)


def _digest(session_id: str) -> str:
    return sha256_hex(session_id)

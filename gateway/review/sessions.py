"""Review sessions: who signed in, until when, and the form token that guards sign-out.

An auditor signs in once with their API key or token (POSTed in a form, never in a URL);
the gateway stores the resulting principal in Elasticsearch (``<prefix>-review-sessions-v1``)
under the SHA-256 of a random session id and gives the browser only that id, in a cookie
that is HttpOnly (no script can read it), SameSite=Strict (no other site can make the
browser send it), scoped to ``/admin/review`` and without Expires/Max-Age (a
browser-session cookie: never written to disk as a persistent cookie). Any replica or
worker serves any signed-in auditor, so a load balancer needs no sticky sessions.

- At rest: the digest of the session id (the document's ``_id``), the principal, and
  times. Never the id itself, nor the key the auditor signed in with; the form token is
  derived from the session id (another digest), so it is not stored either.
- Reads are realtime GETs by id (no refresh needed to see a sign-in on another replica).
- Sessions end after ``IDLE_S`` without a page view (the last view is written at most
  every ``TOUCH_S``, so idleness is measured to within that) or ``ABSOLUTE_S`` after
  sign-in, and on sign-out, which deletes the document. Expired documents are deleted
  when found and by a sweep at sign-in.
- Elasticsearch errors are DependencyUnavailable: the review pages answer 503, never a
  page without a session check.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.elastic import IndexNotFound, create_index_if_missing, elasticsearch_errors
from gateway.es_sweep import delete_matching
from gateway.hashing import sha256_hex
from gateway.identity import Principal

IDLE_S = 15 * 60
ABSOLUTE_S = 60 * 60
TOUCH_S = 60
SWEEP_S = 5 * 60
MAPPING_VERSION = 1


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_token: str
    created: float
    last_seen: float


def sessions_mapping() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "subject": keyword,
            "groups": keyword,
            "attributes": {"type": "object", "enabled": False},
            "key_id": keyword,
            "created": {"type": "double"},
            "last_seen": {"type": "double"},
        },
    }


class SessionStore:
    """Review sessions in Elasticsearch, over the lifespan's client."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        index_prefix: str,
        *,
        idle_s: float = IDLE_S,
        absolute_s: float = ABSOLUTE_S,
        touch_s: float = TOUCH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.index = f"{index_prefix}-review-sessions-v{MAPPING_VERSION}"
        self._idle_s = idle_s
        self._absolute_s = absolute_s
        self._touch_s = min(touch_s, idle_s / 2)
        self._clock = clock
        self._index_ready = False
        self._swept_at = 0.0

    async def create(self, principal: Principal) -> tuple[str, Session]:
        """A new session for ``principal``: (the id for the cookie, the session)."""
        await self._ensure_index()
        await self._sweep()
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        source = {
            "subject": principal.subject,
            "groups": list(principal.groups),
            "attributes": dict(principal.attributes),
            "key_id": principal.key_id,
            "created": now,
            "last_seen": now,
        }
        with elasticsearch_errors(f"cannot write {self.index}"):
            await self.client.index(
                index=self.index, id=_digest(session_id), document=source, op_type="create"
            )
        return session_id, Session(principal, csrf_token(session_id), now, now)

    async def get(self, session_id: str | None) -> Session | None:
        """The live session for this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        try:
            with elasticsearch_errors(f"cannot read {self.index}"):
                found = await self.client.get(index=self.index, id=_digest(session_id))
        except IndexNotFound:  # no such session, or no index yet
            return None
        source = found["_source"]
        session = Session(
            Principal(
                str(source["subject"]),
                tuple(source.get("groups") or ()),
                dict(source.get("attributes") or {}),
                source.get("key_id"),
            ),
            csrf_token(session_id),
            float(source["created"]),
            float(source["last_seen"]),
        )
        now = self._clock()
        if now - session.last_seen > self._idle_s or now - session.created > self._absolute_s:
            await self.end(session_id)
            return None
        if now - session.last_seen >= self._touch_s:
            with elasticsearch_errors(f"cannot write {self.index}"):
                await self.client.update(
                    index=self.index, id=_digest(session_id), doc={"last_seen": now}
                )
        return replace(session, last_seen=now)

    async def end(self, session_id: str | None) -> None:
        """Sign-out: delete the session (a missing one is already ended)."""
        if not session_id:
            return
        with contextlib.suppress(IndexNotFound), elasticsearch_errors(f"cannot write {self.index}"):
            await self.client.delete(index=self.index, id=_digest(session_id))

    async def _sweep(self) -> None:
        """Delete expired sessions, at most every SWEEP_S (sign-ins are rare)."""
        now = self._clock()
        if now - self._swept_at < SWEEP_S:
            return
        self._swept_at = now
        await delete_matching(
            self.client,
            self.index,
            {"bool": {"should": [
                {"range": {"last_seen": {"lt": now - self._idle_s}}},
                {"range": {"created": {"lt": now - self._absolute_s}}},
            ], "minimum_should_match": 1}},
        )  # fmt: skip

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return
        await create_index_if_missing(self.client, self.index, sessions_mapping())
        self._index_ready = True


def csrf_token(session_id: str) -> str:
    """The session's form token: derived from its id (so no replica needs to store it),
    in a digest domain of its own (so it reveals neither the id nor the stored ``_id``)."""
    return sha256_hex(f"review-csrf\x00{session_id}")


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf_token, presented)


def _digest(session_id: str) -> str:
    return sha256_hex(session_id)

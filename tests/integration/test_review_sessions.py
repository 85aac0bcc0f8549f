"""Review sessions in the real Elasticsearch: digests at rest, expiry, sign-out, and any
replica serving any signed-in auditor."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import elasticsearch_client
from gateway.hashing import sha256_hex
from gateway.identity import Principal
from gateway.review.sessions import SessionStore
from gateway.settings import Settings

from ..conftest import CAROL

pytestmark = pytest.mark.integration

ORIGIN = "http://testserver.local"
AUDITOR = Principal("carol", ("security",), {"tenant": "acme"}, key_id="carol-key")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncElasticsearch]:
    es = elasticsearch_client(settings, max_retries=0)
    try:
        yield es
    finally:
        await es.close()


async def test_a_session_is_found_by_its_id_and_stored_only_as_a_digest(
    client: AsyncElasticsearch, settings: Settings
) -> None:
    """The cookie's id finds the principal; another string finds nothing; the document
    holds neither the id nor the form token, only the id's digest as ``_id``."""
    store = SessionStore(client, settings.index_prefix)
    session_id, session = await store.create(AUDITOR)
    found = await store.get(session_id)
    assert found is not None
    assert found.principal == AUDITOR
    assert found.csrf_token == session.csrf_token
    assert await store.get(session_id + "x") is None
    assert await store.get(None) is None
    stored = await client.get(index=store.index, id=sha256_hex(session_id))
    text = str(stored.body)
    assert session_id not in text
    assert session.csrf_token not in text
    assert stored["_source"]["subject"] == "carol"


async def test_sessions_end_when_idle_or_too_old(
    client: AsyncElasticsearch, settings: Settings
) -> None:
    """Idle past the limit, or older than the absolute limit, a session is gone (and its
    document deleted); page views within the idle limit keep it alive."""
    clock = Clock()
    store = SessionStore(
        client, settings.index_prefix, idle_s=60, absolute_s=300, touch_s=10, clock=clock
    )
    idle_id, _ = await store.create(AUDITOR)
    clock.now += 61
    assert await store.get(idle_id) is None
    assert not await client.exists(index=store.index, id=sha256_hex(idle_id))
    busy_id, _ = await store.create(AUDITOR)
    for _ in range(5):
        clock.now += 50
        assert await store.get(busy_id) is not None
    clock.now += 51
    assert await store.get(busy_id) is None


async def test_sign_out_deletes_the_session(client: AsyncElasticsearch, settings: Settings) -> None:
    """end() deletes the document; ending it twice is harmless."""
    store = SessionStore(client, settings.index_prefix)
    session_id, _ = await store.create(AUDITOR)
    await store.end(session_id)
    await store.end(session_id)
    assert await store.get(session_id) is None
    assert not await client.exists(index=store.index, id=sha256_hex(session_id))


async def test_any_replica_serves_a_signed_in_auditor(settings_for: Any, tmp_path: Path) -> None:
    """Signed in through one app instance, the auditor's pages load through another, and
    signing out through the second ends the session on the first (no sticky sessions)."""
    one = create_app(settings_for(audit_dir=tmp_path / "audit-1", message_pii_analysis=False))
    two = create_app(settings_for(audit_dir=tmp_path / "audit-2", message_pii_analysis=False))
    async with AsyncTestClient(app=one) as first, AsyncTestClient(app=two) as second:
        signed_in = await first.post(
            "/admin/review/sign-in",
            data={"credential": CAROL},
            headers={"origin": ORIGIN},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        cookie = first.cookies.get("gw_review")
        assert cookie
        second.cookies.set("gw_review", cookie, path="/admin/review")
        home = await second.get("/admin/review/")
        assert home.status_code == 200
        token = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert token is not None
        assert (await second.get("/admin/review/requests")).status_code == 200
        out = await second.post(
            "/admin/review/sign-out",
            data={"csrf": token[1]},
            headers={"origin": ORIGIN},
            follow_redirects=False,
        )
        assert out.status_code == 303
        assert (await first.get("/admin/review/requests")).status_code == 401

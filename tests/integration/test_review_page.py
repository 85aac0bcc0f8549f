"""The audit review page in-process on the real stack: sign-in, sessions, CSRF, content."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..conftest import ALICE, BOB, CAROL

pytestmark = pytest.mark.integration

ORIGIN = "http://testserver.local"


async def chat(client: Any, key: str, model: str = "gpt-4o-mini") -> str:
    response = await client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "vacation days policy"}]},
    )
    return str(response.headers["x-gateway-audit-id"])


async def sign_in(client: Any, key: str) -> Any:
    return await client.post(
        "/admin/review/sign-in",
        data={"credential": key},
        headers={"origin": ORIGIN},
        follow_redirects=False,
    )


async def test_pages_need_a_session_and_show_the_sign_in_form(demo_client: Any) -> None:
    """Without a session every page is the sign-in form; the home page answers 200."""
    home = await demo_client.get("/admin/review/")
    assert home.status_code == 200
    assert 'type="password"' in home.text
    assert '<label for="credential">' in home.text
    for path in ("/admin/review/requests", "/admin/review/chain", "/admin/review/documents/x"):
        response = await demo_client.get(path)
        assert response.status_code == 401
        assert "Sign in" in response.text


async def test_sign_in_sets_a_strict_httponly_session_cookie(demo_client: Any) -> None:
    """An auditor's key gives a session cookie: HttpOnly, SameSite=Strict, path-scoped,
    no Expires/Max-Age; the key appears in no header or page."""
    response = await sign_in(demo_client, CAROL)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/review/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("gw_review=")
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "path=/admin/review" in lowered
    assert "expires" not in lowered
    assert "max-age" not in lowered
    assert CAROL not in str(response.headers)
    home = await demo_client.get("/admin/review/")
    assert home.status_code == 200
    assert "Signed in as <strong>carol</strong>" in home.text
    assert CAROL not in home.text
    assert "no-store" in home.headers["cache-control"]
    assert "default-src 'none'" in home.headers["content-security-policy"]


async def test_non_auditors_and_bad_keys_are_refused(demo_client: Any) -> None:
    """bob is not an auditor (403, no cookie); an unknown key is a 401; nothing echoed."""
    refused = await sign_in(demo_client, BOB)
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    assert "not an auditor" in refused.text
    unknown = await sign_in(demo_client, "sk-not-a-key-123")
    assert unknown.status_code == 401
    assert "sk-not-a-key-123" not in unknown.text


async def test_cross_site_posts_are_refused(demo_client: Any) -> None:
    """A sign-in from another origin, or a sign-out without the form token, is refused."""
    response = await demo_client.post(
        "/admin/review/sign-in",
        data={"credential": CAROL},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    opaque = await demo_client.post(
        "/admin/review/sign-in",
        data={"credential": CAROL},
        headers={"origin": "null", "sec-fetch-site": "cross-site"},
    )
    assert opaque.status_code == 403
    await sign_in(demo_client, CAROL)
    out = await demo_client.post(
        "/admin/review/sign-out", data={"csrf": "wrong"}, headers={"origin": ORIGIN}
    )
    assert out.status_code == 403
    assert (await demo_client.get("/admin/review/requests")).status_code == 200


async def test_sign_out_ends_the_session(demo_client: Any) -> None:
    """Signing out with the page's form token ends the session on the server."""
    await sign_in(demo_client, CAROL)
    home = await demo_client.get("/admin/review/")
    token = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert token is not None
    cookie = demo_client.cookies.get("gw_review")
    out = await demo_client.post(
        "/admin/review/sign-out",
        data={"csrf": token[1]},
        headers={"origin": ORIGIN},
        follow_redirects=False,
    )
    assert out.status_code == 303
    demo_client.cookies.set("gw_review", cookie, path="/admin/review")
    assert (await demo_client.get("/admin/review/requests")).status_code == 401


async def test_search_record_exposure_and_chain(demo_client: Any) -> None:
    """The pages show the requests, one record's chunks and chain position, a document's
    exposure with its timeline, and the chain status; each view is audited."""
    alice = await chat(demo_client, ALICE)
    await demo_client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {BOB}"},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    await sign_in(demo_client, CAROL)
    found = await demo_client.get("/admin/review/requests", params={"subject": "alice"})
    assert found.status_code == 200
    assert alice in found.text
    assert "1 requests" in found.text
    denied = await demo_client.get("/admin/review/requests", params={"outcome": "denied"})
    assert "bob" in denied.text
    assert alice not in denied.text
    record = await demo_client.get(f"/admin/review/requests/{alice}")
    assert record.status_code == 200
    assert "acme-vacation-policy" in record.text
    assert "Chain position" in record.text
    exposure = await demo_client.get("/admin/review/documents/acme-vacation-policy")
    assert exposure.status_code == 200
    assert alice in exposure.text
    assert '<svg class="chart"' in exposure.text
    assert 'role="img"' in exposure.text
    chain = await demo_client.get("/admin/review/chain")
    assert "intact" in chain.text
    overview = await demo_client.get("/admin/review/")
    assert "Requests per day" in overview.text
    assert (await demo_client.get("/admin/review/requests/aud_missing")).status_code == 404
    audited = await demo_client.get("/admin/review/requests", params={"subject": "carol"})
    assert audited.status_code == 200

"""JWT callers on the real stack: namespaced subjects, strict claims, mismatched keys."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import ChunkIndex
from gateway.settings import Settings

from ..conftest import CAROL
from .conftest import FakeUpstream, audit_records, ingest_demo

pytestmark = pytest.mark.integration

ISSUER, AUDIENCE = "https://idp.acme.example", "gateway"
CHAT = "/v1/chat/completions"
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwt_settings(settings_for: Any, tmp_path: Path) -> Settings:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "rsa1"}]}))
    settings: Settings = settings_for(jwt_jwks_file=jwks, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    return settings


@pytest.fixture
async def client(jwt_settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with ChunkIndex.from_settings(jwt_settings) as index:
        await ingest_demo(index)
    async with AsyncTestClient(app=create_app(jwt_settings)) as test_client:
        yield test_client


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "sub": "carol",
        "groups": [],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        **overrides,
    }
    return claims


def _token(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), PRIVATE, algorithm="RS256", headers={"kid": "rsa1"})


def _chat(content: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


async def test_a_jwt_sub_carol_is_not_the_api_key_carol(
    client: AsyncTestClient[Any], jwt_settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A token saying sub: carol gets none of the documents named for the key user carol."""
    response = await client.post(
        CHAT,
        json=_chat("key accounts contacts"),
        headers={"Authorization": f"Bearer {_token()}"},
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    assert "acme-key-accounts" not in json.dumps(received)
    (record,) = audit_records(jwt_settings)
    assert record["subject"] == f"{ISSUER}#carol"
    # Control: the API-key user carol does get it for the same question.
    fake_upstream.clear()
    response = await client.post(
        CHAT, json=_chat("key accounts contacts"), headers={"Authorization": f"Bearer {CAROL}"}
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    assert "acme-key-accounts" in json.dumps(received)


def _swap_alg(token: str, alg: str) -> str:
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": alg, "kid": "rsa1", "typ": "JWT"}).encode()
    ).rstrip(b"=")
    return header.decode() + token[token.index(".") :]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda: _swap_alg(_token(), "ES256"),
        lambda: jwt.encode(
            _claims(), ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": "rsa1"}
        ),
        lambda: _token(sub=""),
        lambda: _token(exp=str(int(time.time()) + 300)),
        lambda: _token(sub=7),
    ],
)
async def test_bad_tokens_are_401_never_500(
    client: AsyncTestClient[Any], jwt_settings: Settings, make_token: Any
) -> None:
    """kid/alg mismatch, empty subject, string exp: a 401 in OpenAI's shape, no record."""
    token = make_token()
    response = await client.post(
        CHAT, json=_chat("hello"), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"
    assert token not in response.text
    assert audit_records(jwt_settings) == []

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import AuthenticationFailed
from gateway.identity import ApiKeyStore, Authenticator
from gateway.jwt_auth import JwksError, JwtVerifier
from tests.conftest import BOB, DEMO_KEYS

ISSUER, AUDIENCE = "https://idp.acme.example", "governance-gateway"


def _keypair(kid: str) -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public_jwk, "kid": kid, "alg": "RS256", "use": "sig"}


PRIVATE, JWK = _keypair("k1")
OTHER_PRIVATE, _ = _keypair("k1")
VERIFIER = JwtVerifier(
    {"keys": [JWK]}, issuer=ISSUER, audience=AUDIENCE, attribute_claims=["tenant"]
)


def _token(key: Any = PRIVATE, kid: str = "k1", **overrides: Any) -> str:
    claims = {
        "sub": "dana",
        "groups": ["engineering"],
        "tenant": "acme",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_valid_token_maps_claims_to_principal() -> None:
    """Subject, groups and selected attributes come from the verified claims."""
    principal = VERIFIER.verify(_token())
    assert principal.subject == f"{ISSUER}#dana"
    assert principal.groups == ("engineering",)
    assert principal.attributes == {"tenant": "acme"}


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda: _token(exp=int(time.time()) - 3600), "token_expired"),
        (lambda: _token(iss="https://evil.example"), "invalid_token"),
        (lambda: _token(aud="someone-else"), "invalid_token"),
        (lambda: _token(key=OTHER_PRIVATE), "invalid_token"),
        (lambda: _token(kid="unknown"), "invalid_token"),
        (lambda: _token(exp=None), "invalid_token"),
        (lambda: _token(groups="engineering"), "invalid_token"),
        (lambda: _token(sub=""), "invalid_token"),
        (lambda: _token(sub="   "), "invalid_token"),
        (lambda: _token(sub=12), "invalid_token"),
        (lambda: _token(sub=["carol"]), "invalid_token"),
        (lambda: _token(exp=str(int(time.time()) + 300)), "invalid_token"),
        (lambda: _token(nbf="0"), "invalid_token"),
        (lambda: _token(iat="0"), "invalid_token"),
        (lambda: _token(exp=True), "invalid_token"),
        (lambda: _ec_token(kid="k1"), "invalid_token"),
        (lambda: _ec_token(kid="k1", alg_only=True), "invalid_token"),
        (
            lambda: jwt.encode(
                {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999},
                None,  # type: ignore[arg-type]  # PyJWT takes no key for alg "none"
                algorithm="none",
            ),
            "invalid_token",
        ),
        (
            lambda: jwt.encode(
                {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999},
                "a-shared-secret-of-32-bytes-long!",
                algorithm="HS256",
            ),
            "invalid_token",
        ),
    ],
)
def test_bad_tokens_are_refused(make_token: Any, code: str) -> None:
    """Expired, foreign, forged, unsigned or HMAC tokens are 401s that never echo the token.

    Tokens are minted when the test runs, not at collection, so their expiry is meaningful.
    """
    token = make_token()
    with pytest.raises(AuthenticationFailed) as info:
        VERIFIER.verify(token)
    assert info.value.code == code
    assert token not in info.value.message


def _ec_token(kid: str, *, alg_only: bool = False) -> str:
    """A token whose header says ES256 while its kid names the RSA key.

    ``alg_only``: signed with the RSA key anyway, only the header's alg is swapped.
    """
    claims = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300}
    if not alg_only:
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})
    token = jwt.encode(claims, PRIVATE, algorithm="RS256", headers={"kid": kid})
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "ES256", "kid": kid, "typ": "JWT"}).encode()
    ).rstrip(b"=")
    return header.decode() + token[token.index(".") :]


def test_jwt_subjects_do_not_collide_with_api_key_subjects() -> None:
    """A token saying sub: carol is not the API-key subject carol (issuer namespace)."""
    authenticator = Authenticator(ApiKeyStore.from_file(DEMO_KEYS), VERIFIER)
    from_token = authenticator.authenticate(f"Bearer {_token(sub='carol')}")
    assert from_token.subject != "carol"
    assert from_token.subject == f"{ISSUER}#carol"


def test_an_explicit_subject_prefix_maps_subjects() -> None:
    """An explicit prefix replaces the issuer namespace (an operator's mapping)."""
    verifier = JwtVerifier({"keys": [JWK]}, issuer=ISSUER, audience=AUDIENCE, subject_prefix="sso:")
    assert verifier.verify(_token()).subject == "sso:dana"


@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jku"]),
        st.one_of(st.text(max_size=8), st.integers(), st.none(), st.lists(st.text(max_size=3))),
    ),
    payload=st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "aud", "groups"]),
        st.one_of(st.text(max_size=8), st.integers(), st.floats(), st.none(), st.booleans()),
    ),
)
@settings(max_examples=200, deadline=None)
def test_any_malformed_token_is_a_401_never_a_crash(
    header: dict[str, Any], payload: dict[str, Any]
) -> None:
    """Whatever the header and claims say, verify answers a principal or a 401."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part(header)}.{part(payload)}.c2ln"
    with pytest.raises(AuthenticationFailed):
        VERIFIER.verify(token)


def test_authenticator_routes_jwts_and_keys() -> None:
    """With JWTs configured, JWT bearers are verified and API keys still work."""
    authenticator = Authenticator(ApiKeyStore.from_file(DEMO_KEYS), VERIFIER)
    assert authenticator.authenticate(f"Bearer {_token()}").subject == f"{ISSUER}#dana"
    assert authenticator.authenticate(f"Bearer {BOB}").subject == "bob"
    without_jwt = Authenticator(ApiKeyStore.from_file(DEMO_KEYS))
    with pytest.raises(AuthenticationFailed):
        without_jwt.authenticate(f"Bearer {_token()}")


def test_unreadable_jwks_is_a_startup_error(tmp_path: Path) -> None:
    """A missing or malformed JWKS file fails loudly."""
    with pytest.raises(JwksError):
        JwtVerifier.from_file(tmp_path / "missing.json", issuer=ISSUER, audience=AUDIENCE)
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": [{"kty": "nope"}]}')
    with pytest.raises(JwksError):
        JwtVerifier.from_file(bad, issuer=ISSUER, audience=AUDIENCE)

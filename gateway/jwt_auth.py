"""JWT / OIDC bearer tokens, verified offline against a configured JWKS file.

Signature (only asymmetric algorithms: a JWKS never holds shared secrets), issuer,
audience and expiry are all required, with strict types (the subject a non-empty string,
``exp``/``nbf``/``iat`` numbers); a key whose type does not fit the token's ``alg`` is
a 401 like any other bad token. Claims map to the principal: ``sub`` (or the configured
claim) is the subject, namespaced by the issuer (``<iss>#<sub>``, or an explicit
``subject_prefix``) so a token saying ``sub: carol`` is not the API-key subject
``carol``; a list claim gives the groups, and selected claims become attributes. The
JWKS is read from a file, never fetched: the gateway makes no network calls besides the
upstream, Elasticsearch and OPA.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt

from gateway.errors import AuthenticationFailed
from gateway.identity import Principal
from gateway.settings import Settings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
# The JWK key type each algorithm needs: a token naming another key's type is refused
# before the signature check (cryptography would raise a TypeError on the mismatch).
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_NUMERIC_CLAIMS = ("exp", "nbf", "iat")
_MAX_SUBJECT_CHARS = 256


class JwksError(Exception):
    """The JWKS file cannot be read or holds no usable key."""


class JwtVerifier:
    def __init__(
        self,
        jwks: dict[str, Any],
        *,
        issuer: str,
        audience: str,
        subject_claim: str = "sub",
        groups_claim: str = "groups",
        attribute_claims: Sequence[str] = (),
        leeway_s: int = 30,
        subject_prefix: str | None = None,
    ) -> None:
        try:
            self._keys = jwt.PyJWKSet.from_dict(jwks)
        except jwt.PyJWTError as exc:
            raise JwksError(f"unusable JWKS: {exc}") from None
        # The algorithm each key's JWK names itself, if any (PyJWK infers one otherwise).
        self._named_alg = {
            entry.get("kid"): entry.get("alg")
            for entry in jwks.get("keys", [])
            if isinstance(entry, dict)
        }
        self._issuer = issuer
        self._audience = audience
        self._subject_claim = subject_claim
        self._groups_claim = groups_claim
        self._attribute_claims = tuple(attribute_claims)
        self._leeway = leeway_s
        self._prefix = f"{issuer}#" if subject_prefix is None else subject_prefix

    @classmethod
    def from_file(cls, path: Path, **options: Any) -> JwtVerifier:
        try:
            jwks = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise JwksError(f"cannot read JWKS {path}: {exc}") from None
        return cls(jwks, **options)

    def verify(self, token: str) -> Principal:
        """The principal a valid token stands for; AuthenticationFailed otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            # Types first: the library would read exp "123" or true as numbers.
            self._check_types(jwt.decode(token, options={"verify_signature": False}))
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[str(header["alg"])],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", self._subject_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("The token has expired.", code="token_expired") from None
        except jwt.PyJWTError as exc:
            # The library's message names the failed check, never the token itself.
            raise AuthenticationFailed(f"Invalid token: {exc}.", code="invalid_token") from None
        except (ValueError, TypeError, KeyError):
            # cryptography refusing a key for this algorithm, or a malformed header.
            raise AuthenticationFailed(
                "Invalid token: its key and algorithm do not match.", code="invalid_token"
            ) from None
        subject = str(claims[self._subject_claim])
        groups = claims.get(self._groups_claim) or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise AuthenticationFailed(
                "Invalid token: groups claim must be a list of strings.", code="invalid_token"
            )
        attributes = {c: claims[c] for c in self._attribute_claims if c in claims}
        return Principal(
            f"{self._prefix}{subject}",
            tuple(groups),
            attributes,
            key_id=f"jwt:{claims['iss']}",
        )

    def _check_types(self, claims: dict[str, Any]) -> None:
        subject = claims.get(self._subject_claim)
        if not isinstance(subject, str) or not subject.strip() or len(subject) > _MAX_SUBJECT_CHARS:
            raise AuthenticationFailed(
                "Invalid token: the subject claim must be a non-empty string.",
                code="invalid_token",
            )
        for name in _NUMERIC_CLAIMS:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise AuthenticationFailed(
                    f"Invalid token: '{name}' must be a number.", code="invalid_token"
                )

    def _key_for(self, header: dict[str, Any]) -> jwt.PyJWK:
        kid = header.get("kid")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError("the token's algorithm is not accepted")
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                if key.key_type != _KEY_TYPE[alg[:2]]:
                    raise jwt.InvalidKeyError("the key named by kid does not fit the algorithm")
                named = self._named_alg.get(key.key_id)
                if named is not None and named != alg:
                    raise jwt.InvalidAlgorithmError("the token's alg differs from its key's")
                return key
        raise jwt.InvalidKeyError("no key in the JWKS matches the token's kid")


def verifier_from_settings(settings: Settings) -> JwtVerifier | None:
    if settings.jwt_jwks_file is None:
        return None
    return JwtVerifier.from_file(
        settings.jwt_jwks_file,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        subject_claim=settings.jwt_subject_claim,
        groups_claim=settings.jwt_groups_claim,
        attribute_claims=[c.strip() for c in settings.jwt_attribute_claims.split(",") if c.strip()],
        subject_prefix=settings.jwt_subject_prefix,
    )

"""Identify the caller: gateway API keys (stored as SHA-256 hashes) -> Principal.

Keys are random 256-bit secrets, so a plain SHA-256 is the right storage hash (no
password stretching needed) and the lookup is a dict access on the digest.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import AuthenticationFailed
from gateway.hashing import sha256_hex

KEY_PREFIX = "sk-gw-"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the policy sees them."""

    subject: str
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    key_id: str | None = None

    def as_policy_input(self) -> dict[str, Any]:
        return {
            "id": self.subject,
            "groups": list(self.groups),
            "attributes": dict(self.attributes),
        }


class ApiKeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    subject: str = Field(min_length=1)
    groups: tuple[str, ...] = ()
    attributes: dict[str, Any] = Field(default_factory=dict)
    disabled: bool = False


class ApiKeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKeyEntry]


class KeyFileError(Exception):
    """The API-keys file cannot be read or is malformed."""


def hash_key(key: str) -> str:
    return sha256_hex(key)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyStore:
    """Maps a presented bearer key to its principal."""

    def __init__(self, entries: list[ApiKeyEntry]) -> None:
        by_hash: dict[str, ApiKeyEntry] = {}
        ids: set[str] = set()
        for entry in entries:
            if entry.id in ids:
                raise KeyFileError(f"duplicate key id {entry.id!r}")
            if entry.sha256 in by_hash:
                raise KeyFileError(
                    f"key {entry.id!r} repeats the hash of {by_hash[entry.sha256].id!r}"
                )
            ids.add(entry.id)
            by_hash[entry.sha256] = entry
        self._by_hash = by_hash

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyStore:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = ApiKeysFile.model_validate(raw)
        except OSError as exc:
            raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise KeyFileError(f"{path} is not valid YAML: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise KeyFileError(f"{path} is malformed: {problems}") from None
        return cls(parsed.keys)

    def __len__(self) -> int:
        return len(self._by_hash)

    def principal_for_subject(self, subject: str) -> Principal | None:
        """The principal of the first active key of ``subject`` (for ``gateway explain``)."""
        for entry in self._by_hash.values():
            if entry.subject == subject and not entry.disabled:
                return _principal(entry)
        return None

    def authenticate(self, authorization: str | None) -> Principal:
        """Resolve an ``Authorization`` header value; never echoes the key in errors."""
        if not authorization:
            raise AuthenticationFailed(
                "Missing API key: send 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("Authorization header must be 'Bearer <key>'.")
        entry = self._by_hash.get(hash_key(token))
        if entry is None or entry.disabled:
            raise AuthenticationFailed("Incorrect API key provided.")
        return _principal(entry)


class Authenticator:
    """Bearer API keys, and JWTs when a verifier is configured."""

    def __init__(self, keys: ApiKeyStore, jwt_verifier: JwtVerifying | None = None) -> None:
        self._keys = keys
        self._jwt = jwt_verifier

    def authenticate(self, authorization: str | None) -> Principal:
        if self._jwt is not None and authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token.startswith("eyJ") and token.count(".") == 2:
                return self._jwt.verify(token)
        return self._keys.authenticate(authorization)


class JwtVerifying(Protocol):
    def verify(self, token: str) -> Principal: ...


def _principal(entry: ApiKeyEntry) -> Principal:
    return Principal(
        subject=entry.subject,
        groups=entry.groups,
        attributes=dict(entry.attributes),
        key_id=entry.id,
    )

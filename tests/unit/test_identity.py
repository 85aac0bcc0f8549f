from pathlib import Path

import pytest

from gateway.errors import AuthenticationFailed
from gateway.identity import ApiKeyStore, KeyFileError, hash_key, new_key
from tests.conftest import ALICE, DEMO_KEYS


@pytest.fixture
def store() -> ApiKeyStore:
    return ApiKeyStore.from_file(DEMO_KEYS)


def test_valid_key_resolves_to_principal(store: ApiKeyStore) -> None:
    """A known bearer key maps to its subject, groups and attributes."""
    principal = store.authenticate(f"Bearer {ALICE}")
    assert principal.subject == "alice"
    assert principal.groups == ("engineering",)
    assert principal.attributes["tenant"] == "acme"
    assert principal.key_id == "alice-demo"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("Basic abc", "invalid_api_key"),
        ("Bearer", "invalid_api_key"),
        ("Bearer sk-demo-mallory", "invalid_api_key"),
    ],
)
def test_bad_credentials_are_refused(store: ApiKeyStore, header: str | None, code: str) -> None:
    """Missing, malformed and unknown keys are 401s that never echo the key."""
    with pytest.raises(AuthenticationFailed) as info:
        store.authenticate(header)
    assert info.value.code == code
    assert info.value.status_code == 401
    assert "mallory" not in info.value.message


def test_disabled_key_is_refused(tmp_path: Path) -> None:
    """A key marked disabled no longer authenticates."""
    key = new_key()
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n- id: k\n  sha256: {hash_key(key)}\n  subject: s\n  disabled: true\n")
    with pytest.raises(AuthenticationFailed):
        ApiKeyStore.from_file(path).authenticate(f"Bearer {key}")


def test_new_keys_are_unique_and_prefixed() -> None:
    """Generated keys carry the gateway prefix and enough entropy to never repeat."""
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("sk-gw-") and len(k) > 40 for k in keys)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("keys: [", "not valid YAML"),
        ("keys:\n- id: a\n  sha256: xyz\n  subject: s\n", "malformed"),
        ("nothing: here\n", "malformed"),
        (
            "keys:\n"
            f"- {{id: a, sha256: '{'a' * 64}', subject: s}}\n"
            f"- {{id: a, sha256: '{'b' * 64}', subject: t}}\n",
            "duplicate key id",
        ),
    ],
)
def test_malformed_key_files_are_refused(tmp_path: Path, content: str, problem: str) -> None:
    """Bad YAML, bad hashes, wrong layout and duplicate ids are start-up errors."""
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=problem):
        ApiKeyStore.from_file(path)

"""What ``gateway serve`` imports only when a setting asks for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.audit.prompts import PromptCipher
from gateway.jwt_auth import JwtVerifier
from gateway.services import _jwt_verifier, _prompt_cipher
from gateway.settings import Settings, load_settings
from tests.conftest import REPO


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: []\n")
    return load_settings(
        upstream_base_url="http://127.0.0.1:9", audit_dir=tmp_path, api_keys_file=keys, **overrides
    )


def test_the_serve_path_imports_no_jwt() -> None:
    """The CLI, the server and the application do not import PyJWT (nor cryptography's
    X.509 and asymmetric keys): they load only with a JWKS file configured."""
    script = (
        "import json, sys, gateway.cli, gateway.serving.server, gateway.app, gateway.services; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "gateway" in loaded
    assert not loaded & {"jwt", "cryptography.x509", "cryptography.hazmat.primitives.asymmetric"}


def test_verifier_and_cipher_only_when_configured(tmp_path: Path) -> None:
    """No JWKS file, no prompt storage: neither is built; configured: both are."""
    plain = _settings(tmp_path)
    assert _jwt_verifier(plain) is None
    assert _prompt_cipher(plain) is None
    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256"}]}))
    configured = _settings(
        tmp_path,
        jwt_jwks_file=jwks,
        jwt_issuer="https://issuer.example",
        jwt_audience="gateway",
        audit_store_prompts=True,
        audit_encryption_key=Fernet.generate_key().decode(),
    )
    assert isinstance(_jwt_verifier(configured), JwtVerifier)
    assert isinstance(_prompt_cipher(configured), PromptCipher)

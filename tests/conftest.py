"""Shared test helpers: the demo key file and the real-stack environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from .secret_scan import planted_secrets, scan

REPO = Path(__file__).resolve().parents[1]
DEMO_KEYS = REPO / "deploy" / "local" / "demo" / "api-keys.yaml"
DEMO_CORPUS = REPO / "deploy" / "local" / "demo" / "corpus"
ALICE, BOB, CAROL = "sk-demo-alice", "sk-demo-bob", "sk-demo-carol"


def _reachable(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, auth=auth, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


class StackEnv(dict[str, str]):
    """The stack's variables; its repr hides secrets so failing tests do not print them."""

    def __repr__(self) -> str:
        return repr({k: "***" if "PASSWORD" in k or "KEY" in k else v for k, v in self.items()})


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """GATEWAY_* variables of the running local stack (deploy/local/stack.sh env).

    Skips with a reason when the stack is not up, unless GATEWAY_REQUIRE_STACK=1 (set by
    the test script and CI), where a missing service fails the run instead.
    """
    env = {k: v for k, v in os.environ.items() if k.startswith(("GATEWAY_", "STACK_"))}
    needed = ["GATEWAY_ELASTICSEARCH_URL", "GATEWAY_OPA_URL", "STACK_FAKE_UPSTREAM_URL"]
    problems = [f"{name} not set" for name in needed if name not in env]
    if not problems:
        auth = (
            env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
            env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
        )
        checks = {
            "elasticsearch": (env["GATEWAY_ELASTICSEARCH_URL"] + "/_cluster/health", auth),
            "opa": (env["GATEWAY_OPA_URL"] + "/health", None),
            "fake upstream": (env["STACK_FAKE_UPSTREAM_URL"] + "/v1/models", None),
        }
        problems = [
            f"{name} not reachable" for name, (url, a) in checks.items() if not _reachable(url, a)
        ]
    if problems:
        reason = "real stack not available (run deploy/local/stack.sh start): " + ", ".join(
            problems
        )
        if os.environ.get("GATEWAY_REQUIRE_STACK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return StackEnv(env)


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_gateway_output(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """After the whole suite: no API key, password or planted PII value appears in anything
    the gateway wrote (logs, audit segments, spool cursors) under the session's temp dir."""
    yield
    found = scan(tmp_path_factory.getbasetemp(), planted_secrets())
    assert not found, f"secrets or PII in gateway output: {sorted({str(p) for p, _ in found})}"

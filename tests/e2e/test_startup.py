"""Start-up refuses bad settings with a message naming the setting."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import BOB, DEMO_KEYS, REPO
from .conftest import free_port, gateway_executable, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


def _run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [gateway_executable(), "serve"],
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_settings_stop_startup(tmp_path: Path) -> None:
    """Without required settings the process exits 2 naming each missing one."""
    result = _run_serve({"GATEWAY_AUDIT_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "GATEWAY_UPSTREAM_BASE_URL: required but not set" in result.stderr
    assert "GATEWAY_API_KEYS_FILE: required but not set" in result.stderr


def test_bad_value_stops_startup(tmp_path: Path) -> None:
    """A malformed value exits 2 naming the setting, before anything listens."""
    result = _run_serve(
        {
            "GATEWAY_UPSTREAM_BASE_URL": "http://127.0.0.1:1/v1",
            "GATEWAY_AUDIT_DIR": str(tmp_path),
            "GATEWAY_API_KEYS_FILE": str(DEMO_KEYS),
            "GATEWAY_OPA_URL": "ftp://nowhere",
        }
    )
    assert result.returncode == 2
    assert "GATEWAY_OPA_URL:" in result.stderr


def test_malformed_keys_file_stops_startup(tmp_path: Path) -> None:
    """A broken API-keys file is a start-up error, not a gateway that lets nobody in."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: [")
    result = _run_serve(
        {
            "GATEWAY_UPSTREAM_BASE_URL": "http://127.0.0.1:1/v1",
            "GATEWAY_AUDIT_DIR": str(tmp_path / "audit"),
            "GATEWAY_API_KEYS_FILE": str(keys),
        }
    )
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr


def test_opa_stopped_fails_closed_despite_cached_decisions(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A real OPA serving policies/ is stopped: /readyz becomes 503 naming opa, and a chat
    request whose authorization was cached a moment ago is refused, not served."""
    opa_port = free_port()
    opa = subprocess.Popen(
        [
            stack_env["STACK_OPA_BIN"],
            "run",
            "--server",
            "--addr",
            f"127.0.0.1:{opa_port}",
            "--ignore",
            "*_test.rego",
            str(REPO / "policies"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{opa_port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        gateway = start_gateway(
            stack_env,
            tmp_path,
            GATEWAY_OPA_URL=f"http://127.0.0.1:{opa_port}",
            GATEWAY_OPA_TIMEOUT_S="0.5",
            GATEWAY_POLICY_POLL_INTERVAL_S="0.2",
        )
        assert httpx.get(f"{gateway.base_url}/readyz", timeout=10).status_code == 200
        base_url = gateway.base_url

        def chat() -> httpx.Response:
            return httpx.post(
                f"{base_url}/v1/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"},
                timeout=10,
            )

        assert chat().status_code == 200
        assert chat().status_code == 200
        opa.send_signal(signal.SIGTERM)
        opa.wait(timeout=20)
        response = httpx.get(f"{gateway.base_url}/readyz", timeout=10)
        assert response.status_code == 503
        assert response.json()["failing"] == ["opa"]
        time.sleep(0.5)  # the revision watcher's next poll notices OPA is gone
        refused = chat()
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "dependency_unavailable"
        records = [
            json.loads(line)
            for line in (gateway.audit_dir / "audit-000001.jsonl").read_text().splitlines()
        ]
        allowed = [r for r in records if r["kind"] == "request" and r["allowed"]]
        assert [r["policy_decision_cached"] for r in allowed] == [False, True]
        assert allowed[0]["policy_decision_ids"] == allowed[1]["policy_decision_ids"]
    finally:
        if opa.poll() is None:
            opa.kill()
        if gateway is not None:
            stop_gateway(gateway)


def test_sigterm_shuts_down_gracefully(stack_env: dict[str, str], tmp_path: Path) -> None:
    """SIGTERM runs the lifespan shutdown (clients closed) before the process ends.

    uvicorn re-raises the signal after a clean shutdown, so the exit status is -SIGTERM.
    """
    gateway = start_gateway(stack_env, tmp_path)
    assert httpx.get(f"{gateway.base_url}/readyz", timeout=10).status_code == 200
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(timeout=30) in {0, -signal.SIGTERM}
    log = gateway.log()
    assert "Application shutdown complete" in log
    assert "Finished server process" in log
    assert "Traceback" not in log


def test_client_disconnect_ends_the_upstream_stream(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A caller hanging up mid-stream cancels the upstream call; the outcome records the cut."""
    gateway = start_gateway(stack_env, tmp_path)
    try:
        body = {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "FAKE_SLOW_STREAM"}],
        }
        started = time.monotonic()
        with httpx.stream(
            "POST",
            f"{gateway.base_url}/v1/chat/completions",
            json=body,
            headers={"Authorization": "Bearer sk-demo-bob"},
            timeout=10,
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    break  # hang up after the first event
        deadline = time.monotonic() + 5
        outcome = None
        while outcome is None and time.monotonic() < deadline:
            records = [
                json.loads(line)
                for p in sorted(gateway.audit_dir.glob("*.jsonl"))
                for line in p.read_text().splitlines()
            ]
            outcome = next((r for r in records if r["kind"] == "outcome"), None)
            time.sleep(0.1)
        assert outcome is not None
        assert outcome["stream_completed"] is False
        # The whole slow stream takes over 3 s; the cut was noticed long before its end.
        assert time.monotonic() - started < 2.5
    finally:
        stop_gateway(gateway)

"""Per-caller concurrency limits on a real ``gateway serve``: one slot across endpoints."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.identity import hash_key, new_key

from .conftest import start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

NO_ANALYSIS = {"GATEWAY_MESSAGE_PII_ANALYSIS": "false", "GATEWAY_FINETUNE_PII_SCAN": "false"}


def test_a_streaming_chat_holds_the_callers_only_slot_for_every_endpoint(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path
) -> None:
    """With concurrent_requests 1, a files request made while the caller's chat still
    streams is refused (429, retry-after, recorded); once the stream ends it passes, and
    another caller is never affected."""
    subject = f"limits-e2e-{uuid.uuid4().hex[:8]}"
    key = new_key()
    keys_file = tmp_path / "keys.yaml"
    entries = [{"id": subject, "sha256": hash_key(key), "subject": subject, "groups": ["sales"]}]
    other = new_key()
    entries.append({"id": f"{subject}-b", "sha256": hash_key(other), "subject": f"{subject}-b"})
    keys_file.write_text(yaml.safe_dump({"keys": entries}))
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/data/gateway/config/limits/subjects/{subject}"
    httpx.put(url, json={"concurrent_requests": 1}, timeout=5).raise_for_status()
    gateway = start_gateway(
        stack_env, tmp_path, GATEWAY_API_KEYS_FILE=str(keys_file), **NO_ANALYSIS
    )
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    streaming = threading.Event()
    try:
        with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
            body = {
                "model": "gpt-4o-mini",
                "stream": True,
                "messages": [{"role": "user", "content": "FAKE_SLOW_STREAM"}],
            }

            def stream() -> None:
                with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
                    assert r.status_code == 200
                    for _ in r.iter_bytes():
                        streaming.set()

            chat = threading.Thread(target=stream)
            chat.start()
            assert streaming.wait(30)
            during = client.get("/v1/files", headers=headers)
            bystander = client.get("/v1/files", headers={"Authorization": f"Bearer {other}"})
            chat.join(60)
            time.sleep(0.2)  # the slot is given back when the response is over
            after = client.get("/v1/files", headers=headers)
    finally:
        stop_gateway(gateway)
        httpx.delete(url, timeout=5)
    assert during.status_code == 429, during.text
    error = during.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "concurrent" in error["message"]
    assert during.headers["retry-after"] == "1"
    assert "x-gateway-audit-id" in during.headers
    assert bystander.status_code == 200, bystander.text
    assert after.status_code == 200, after.text

"""kill -9 under load: the audit log still verifies, and every prompt has its record."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ..conftest import ALICE, BOB
from ..integration.conftest import FakeUpstream
from .conftest import gateway_executable, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


def _verify(audit_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gateway_executable(), "audit", "verify", "--dir", str(audit_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kill_9_under_load_loses_no_record(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path
) -> None:
    """After SIGKILL mid-load, `gateway audit verify` passes and no request that reached the
    upstream lacks its audit record; a restarted gateway continues the same chain."""
    upstream = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    marker = uuid.uuid4().hex
    gateway = start_gateway(stack_env, tmp_path)
    stop = threading.Event()

    def load(worker: int) -> None:
        key = (BOB, ALICE)[worker % 2]
        n = 0
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                n += 1
                body = {
                    "model": "gpt-4o-mini",
                    "stream": n % 2 == 0,
                    "messages": [
                        {"role": "user", "content": f"{marker} price vacation {worker}-{n}"}
                    ],
                }
                with contextlib.suppress(httpx.HTTPError):  # killed under us: expected
                    client.post(
                        f"{gateway.base_url}/v1/chat/completions",
                        json=body,
                        headers={"Authorization": f"Bearer {key}"},
                    )

    threads = [threading.Thread(target=load, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    # Kill once real load has reached the upstream (a loaded machine needs longer).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(marker in r["raw_body"] for r in upstream.requests()) > 10:
            break
        time.sleep(0.5)
    os.kill(gateway.process.pid, signal.SIGKILL)
    gateway.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    report = _verify(gateway.audit_dir)
    assert report.returncode == 0, report.stdout + report.stderr
    records = [
        json.loads(line)
        for path in sorted(gateway.audit_dir.glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    audited = {
        r["upstream_body_sha256"]
        for r in records
        if r.get("kind") == "request" and r.get("allowed")
    }
    reached = [r for r in upstream.requests() if marker in r["raw_body"]]
    # There really was load (the marker is a UUID's hex: it reaches the model whole).
    assert len(reached) > 10, f"no load reached the upstream; gateway log:\n{gateway.log()[-4000:]}"
    missing = [
        r for r in reached if hashlib.sha256(r["raw_body"].encode()).hexdigest() not in audited
    ]
    assert missing == []

    restarted = start_gateway(stack_env, tmp_path)
    try:
        response = httpx.post(
            f"{restarted.base_url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "after crash"}]},
            headers={"Authorization": f"Bearer {BOB}"},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        stop_gateway(restarted)
    assert _verify(restarted.audit_dir).returncode == 0

"""The real ``gateway serve`` process and its PII workers: killed workers under load,
and no process outliving the gateway, whether it is stopped with SIGTERM or SIGKILL."""

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import BOB
from ..integration.conftest import FakeUpstream
from .conftest import RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"}
LONG = "Our meeting notes from the quarterly planning session follow. " * 20


def _children() -> dict[int, int]:
    """pid -> parent pid for every live (non-zombie) process."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            found[int(entry.name)] = int(fields[1])
    return found


def _descendants(root: int) -> set[int]:
    parents = _children()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _worker_pids(gateway: RunningGateway) -> set[int]:
    check = httpx.get(f"{gateway.base_url}/readyz", timeout=10).json()["checks"]["pii_analysis"]
    return {w["pid"] for w in check["workers"] if w["pid"]}


def _ready_worker_pids(gateway: RunningGateway, count: int) -> set[int]:
    """The workers' pids once ``count`` of them are ready: start-up returns when the
    first one is, and a worker reports its pid only when its models are loaded."""
    deadline = time.monotonic() + 180
    while len(pids := _worker_pids(gateway)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return pids


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    """Those of ``pids`` still alive after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (alive := pids & set(_children())) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_no_process_outlives_the_gateway(
    stack_env: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    """Every process the gateway started (its PII workers included, and no
    multiprocessing resource tracker) is gone soon after the gateway ends, even when it
    is SIGKILLed and has no chance to clean up."""
    gateway = start_gateway(stack_env, tmp_path)
    try:
        workers = _worker_pids(gateway)
        started = _descendants(gateway.process.pid)
        assert workers
        assert workers <= started
        gateway.process.send_signal(sig)
        gateway.process.wait(timeout=30)
        assert _gone_within(started, 5.0) == set()
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()


def _analysis_workers_under(root: int) -> set[int]:
    found = set()
    for pid in _descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gateway.analysis.worker" in command:
            found.add(pid)
    return found


@pytest.mark.parametrize(("pii", "expected"), [("true", 2), ("false", 0)])
def test_the_worker_started_ahead_is_adopted_or_stopped(
    stack_env: dict[str, str], tmp_path: Path, pii: str, expected: int
) -> None:
    """``gateway serve`` starts one PII worker before reading its settings: with two
    workers configured it becomes one of the pool's two (no third process), and with
    analysis off it is stopped (no worker process at all)."""
    gateway = start_gateway(
        stack_env,
        tmp_path,
        GATEWAY_PII_WORKERS="2",
        GATEWAY_MESSAGE_PII_ANALYSIS=pii,
        GATEWAY_FINETUNE_PII_SCAN=pii,
    )
    try:
        workers = _analysis_workers_under(gateway.process.pid)
        assert len(workers) == expected
        if expected:
            assert workers == _ready_worker_pids(gateway, expected)
    finally:
        stop_gateway(gateway)


def test_killing_workers_under_load_never_leaks_or_500s(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Concurrent chats while the worker is SIGKILLed: each is answered with its phone
    number redacted, or refused with 503 and audited; /readyz is 503 naming the pool
    until the replacement is ready, then chat works again."""
    upstream = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    upstream.clear()
    gateway = start_gateway(stack_env, tmp_path, GATEWAY_PII_WORKERS="1")
    try:
        (pid,) = _worker_pids(gateway)
        phones = [f"+1 415 555 {1000 + n}" for n in range(24)]

        async def load() -> tuple[list[int], list[int]]:
            async with httpx.AsyncClient(base_url=gateway.base_url, timeout=120) as client:

                async def chat(phone: str) -> int:
                    body = {
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": f"{LONG} Call me on {phone}."}],
                    }
                    response = await client.post("/v1/chat/completions", json=body, headers=AUTH)
                    return response.status_code

                tasks = [asyncio.create_task(chat(phone)) for phone in phones]
                await asyncio.sleep(0.3)
                os.kill(pid, signal.SIGKILL)
                ready: list[int] = []
                deadline = time.monotonic() + 30
                while 503 not in ready and time.monotonic() < deadline:
                    ready.append((await client.get("/readyz")).status_code)
                    await asyncio.sleep(0.05)
                return list(await asyncio.gather(*tasks)), ready

        statuses, readyz = asyncio.run(load())
        assert set(statuses) <= {200, 503}, statuses
        assert 503 in readyz
        sent = upstream.requests()
        assert len(sent) == statuses.count(200)
        assert not any(phone in json.dumps(sent) for phone in phones)
        records = [
            json.loads(line)
            for line in (gateway.audit_dir / "audit-000001.jsonl").read_text().splitlines()
        ]
        requests = [r for r in records if r["kind"] == "request"]
        assert len(requests) == len(phones)
        assert all(r["status"] == 503 for r in requests if not r["allowed"])
        deadline = time.monotonic() + 300
        while httpx.get(f"{gateway.base_url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the pool never recovered"
            time.sleep(0.2)
        assert _worker_pids(gateway) != {pid}
        again = httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi Ann"}]},
            headers=AUTH,
            timeout=120,
        )
        assert again.status_code == 200
    finally:
        stop_gateway(gateway)

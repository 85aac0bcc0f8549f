"""`gateway serve --workers 2` against the real stack: both workers serve, each writes its
own chain, both chains verify, and nothing the server started outlives it (SIGTERM to the
supervisor, and SIGKILL of the supervisor)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ..conftest import ALICE, DEMO_KEYS, REPO
from .conftest import E2E_INDEX_PREFIX, free_port, gateway_executable

pytestmark = pytest.mark.e2e

CHAT = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "What is our leave policy?"}],
}


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Pids still running (zombies count as gone: they hold nothing)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def start(
    env: dict[str, str], tmp_path: Path, **overrides: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    audit_dir = tmp_path / "audit"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        **env,
        "GATEWAY_PORT": str(port),
        "GATEWAY_AUDIT_DIR": str(audit_dir),
        "GATEWAY_API_KEYS_FILE": str(DEMO_KEYS),
        "GATEWAY_INDEX_PREFIX": E2E_INDEX_PREFIX,
        "GATEWAY_AUDIT_INDEX_SHIPPING": "false",
        **overrides,
    }
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [gateway_executable(), "serve", "--workers", "2"],
            env=full_env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 300  # the shared 2-core machine is often saturated
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        if log_path.read_text().count("Application startup complete.") >= 2:
            return process, f"http://127.0.0.1:{port}", audit_dir
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"workers did not start:\n{log_path.read_text()}")


def wait_ready(base_url: str) -> None:
    """Both workers answer /readyz 200 (PII models loaded where enabled)."""
    deadline, ready = time.monotonic() + 300, 0
    while time.monotonic() < deadline and ready < 10:
        with httpx.Client() as client:  # a fresh connection: any worker may answer
            response = client.get(f"{base_url}/readyz", timeout=10)
        ready = ready + 1 if response.status_code == 200 else 0
        time.sleep(0.1)
    assert ready >= 10, response.text


def chat_until_both_chains(base_url: str, audit_dir: Path) -> list[str]:
    """Send chats on fresh connections until both workers' chains hold a request."""
    ids: list[str] = []

    def one(_n: int) -> str | None:
        with httpx.Client(timeout=60) as client:
            response = client.post(
                f"{base_url}/v1/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {ALICE}"},
            )
        return response.headers.get("x-gateway-audit-id") if response.status_code == 200 else None

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(4) as pool:
            ids += [i for i in pool.map(one, range(8)) if i]
        chains = {p.name.split("-")[1] for p in audit_dir.glob("audit-w*-*.jsonl")}
        writers = {
            json.loads(line).get("writer")
            for path in audit_dir.glob("audit-w*-*.jsonl")
            for line in path.read_text().splitlines()
            if '"kind":"request"' in line
        }
        if chains == {"w1", "w2"} and writers == {"w1", "w2"}:
            return ids
    raise AssertionError("the requests never reached both workers")


def verify(audit_dir: Path) -> dict[str, object]:
    result = subprocess.run(
        [gateway_executable(), "audit", "verify", "--dir", str(audit_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def search_ids(audit_dir: Path) -> set[str]:
    result = subprocess.run(
        [gateway_executable(), "audit", "search", "--dir", str(audit_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {str(record["audit_id"]) for record in json.loads(result.stdout)}


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


@pytest.mark.parametrize(
    ("sig", "pii"),
    [(signal.SIGTERM, "false"), (signal.SIGKILL, "true")],
    ids=["sigterm", "sigkill-with-pii-workers"],
)
def test_two_workers_two_chains_and_no_orphans(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path, sig: signal.Signals, pii: str
) -> None:
    """Both workers serve and each writes its own chain (writer w1 / w2); after SIGTERM to
    the supervisor, or SIGKILL of it, every process it started exits, both chains are
    sealed by their worker's graceful shutdown and verify, and every audit id a caller got
    is in the merged search."""
    process, base_url, audit_dir = start(
        stack_env,
        tmp_path,
        GATEWAY_MESSAGE_PII_ANALYSIS=pii,
        GATEWAY_FINETUNE_PII_SCAN="false",
        GATEWAY_PII_WORKERS="1",
    )
    try:
        wait_ready(base_url)
        ids = chat_until_both_chains(base_url, audit_dir)
        started = descendants(process.pid)
        assert len(started) >= 2 + (2 if pii == "true" else 0), started
        process.send_signal(sig)
        assert not wait_gone(started | {process.pid}, 60), "processes outlived the server"
        if sig == signal.SIGTERM:
            assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
        for pid in alive(descendants(process.pid)):
            os.kill(pid, signal.SIGKILL)
    report = verify(audit_dir)
    chains = report["chains"]
    assert isinstance(chains, list)
    assert [(c["writer"], c["ok"], c["sealed"]) for c in chains] == [
        ("w1", True, True),
        ("w2", True, True),
    ]
    assert set(ids) <= search_ids(audit_dir)

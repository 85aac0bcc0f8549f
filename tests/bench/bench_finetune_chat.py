"""Chat latency while a large fine-tuning upload is scanned, and that upload's speed.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_finetune.py --examples 200 --no-presidio  # once: corpus
    uv run python tests/bench/bench_finetune_chat.py --mb 50 --requests 200

Starts ``gateway serve`` on the fine-tune bench index (governed stdlib docstrings) with the
upload limit raised, then measures chat p50 (one caller, fresh 140-character message,
retrieval on) alone and again while one caller uploads a ~``--mb`` MB JSONL file of
ordinary text (the scan: parse, fingerprint, corpus match and the default PII scan). Both
phases run in one gateway process, so they share its event loop and Presidio worker.
Not a test; figures go into tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script
from tests.bench import finetune_data
from tests.bench.bench_chat import free_port, fresh_message


def training_file(megabytes: float, rng: random.Random) -> bytes:
    lines: list[str] = []
    size = 0
    while size < megabytes * 1e6:
        line = json.dumps(finetune_data.chat(finetune_data.business_text(rng)))
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def start_gateway(
    port: int, audit_dir: Path, max_bytes: int, prefix: str = "gateway-bench-ft"
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_INDEX_PREFIX": prefix,
        "GATEWAY_AUDIT_DIR": str(audit_dir),
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_FINETUNE_MAX_UPLOAD_BYTES": str(max_bytes),
        "GATEWAY_ELASTICSEARCH_TIMEOUT_S": "60",
        # One caller chats for minutes: its per-minute limits are not what is measured.
        "GATEWAY_RATE_LIMITS": "false",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gateway")), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gateway did not become ready")


async def chat_latencies(
    client: httpx.AsyncClient,
    url: str,
    requests: int,
    rng: random.Random,
    until: asyncio.Event,
    failures: Counter[int] | None = None,
) -> list[float]:
    """``requests`` sequential chats (or fewer, if ``until`` is set first): the latency
    of each answered one; the status of each other one is counted in ``failures``."""
    headers = {"Authorization": "Bearer sk-demo-bob"}
    found = []
    for _ in range(requests):
        if until.is_set():
            break
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": fresh_message(rng)}],
        }
        started = time.perf_counter()
        response = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
        if response.status_code != 200:
            if failures is None:
                response.raise_for_status()
            else:
                failures[response.status_code] += 1
            continue
        found.append((time.perf_counter() - started) * 1000)
    return found


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    content = training_file(args.mb, rng)
    port = free_port()
    with tempfile.TemporaryDirectory() as audit_dir:
        process = start_gateway(port, Path(audit_dir), len(content) + 1_000_000)
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=900) as client:
                never = asyncio.Event()
                await chat_latencies(client, url, 20, rng, never)  # warm up
                alone = await chat_latencies(client, url, args.requests, rng, never)
                done = asyncio.Event()

                failures: Counter[int] = Counter()
                cpu_before = process_cpu_s(process.pid)

                async def upload() -> tuple[dict[str, Any], float]:
                    started = time.perf_counter()
                    headers = {"Authorization": "Bearer sk-demo-bob"}
                    response = await client.post(
                        f"{url}/v1/files",
                        headers=headers,
                        files={"file": ("train.jsonl", content)},
                        data={"purpose": "fine-tune"},
                    )
                    # The scan runs in the background: wait for its outcome.
                    while response.status_code == 200 and response.json()["status"] == "uploaded":
                        await asyncio.sleep(0.5)
                        file_id = response.json()["id"]
                        response = await client.get(f"{url}/v1/files/{file_id}", headers=headers)
                    done.set()
                    stored = response.json() if response.status_code == 200 else {}
                    outcome = {
                        "http_status": response.status_code,
                        "file_status": stored.get("status"),
                        "status_details": stored.get("status_details"),
                    }
                    return outcome, time.perf_counter() - started

                task = asyncio.create_task(upload())
                await asyncio.sleep(1.0)  # the body is sent; the scan has started
                during = await chat_latencies(client, url, 100_000, rng, done, failures)
                outcome, seconds = await task
                gateway_cpu = process_cpu_s(process.pid) - cpu_before
                stages = scan_stages(Path(audit_dir))
        finally:
            process.terminate()
            process.wait(timeout=30)
    p50_alone, p50_during = statistics.median(alone), statistics.median(during)
    return {
        "upload_bytes": len(content),
        "upload_outcome": outcome,
        "gateway_cpu_s_during_upload": round(gateway_cpu, 2),
        "scan_stages_ms": stages,
        "load_average": os.getloadavg(),
        "upload_seconds": round(seconds, 2),
        "upload_mb_per_s": round(len(content) / seconds / 1e6, 3),
        "chat_p50_alone_ms": round(p50_alone, 2),
        "chat_p50_during_upload_ms": round(p50_during, 2),
        "chat_p99_alone_ms": round(_p99(alone), 2),
        "chat_p99_during_upload_ms": round(_p99(during), 2),
        "chat_requests_during_upload": len(during),
        "chat_failures_during_upload": dict(failures),
        "chat_p50_change_pct": round(100 * (p50_during / p50_alone - 1), 1),
    }


def scan_stages(audit_dir: Path) -> Any:
    """The upload's ``scan_ms`` (parse, fingerprint, search, pii), from its audit record."""
    for path in sorted(audit_dir.rglob("*")):
        if not path.is_file():
            continue
        for line in path.read_bytes().splitlines():
            if b'"files.scanned"' in line and b'"scan_ms"' in line:
                return _find_key(json.loads(line), "scan_ms")
    return None


def _find_key(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            if (found := _find_key(item, key)) is not None:
                return found
    return None


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, len(values) * 99 // 100)]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its waited-for children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()

"""Chat benchmark: the gateway's added latency over calling the fake upstream directly.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_retrieval.py --chunks 100000   # once: the bench index
    uv run python tests/bench/bench_chat.py --requests 300

Starts ``gateway serve`` on the bench index (100k synthetic chunks), then for concurrency
1 and 32, streaming and not, with retrieval of 5 chunks + redaction and with retrieval
off, measures end-to-end latency and time to first token, interleaving the direct and
gateway calls. Every request carries a fresh user message, so the caller's text is always
analysed by Presidio (no cache hits). Also measures Presidio's cost per 100 characters
of new caller text, and reads the gateway's Server-Timing header to show how that
analysis overlaps with retrieval. Not a test; figures go into tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
WORDS = [
    "price",
    "plan",
    "seat",
    "discount",
    "vacation",
    "policy",
    "incident",
    "runbook",
    "renewal",
    "contract",
    "invoice",
    "support",
    "escalation",
    "onboarding",
    "security",
]
counter = itertools.count()


def fresh_message(rng: random.Random) -> str:
    """About 140 characters, unique per request (a new sentence, no cache hit)."""
    words = " ".join(rng.choices(WORDS, k=14))
    return f"Request {next(counter)}: what do we know about {words}?"[:140]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(port: int, audit_dir: Path, message_pii: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_MESSAGE_PII_ANALYSIS": "true" if message_pii else "false",
        "GATEWAY_PORT": str(port),
        "GATEWAY_INDEX_PREFIX": "gateway-bench",
        "GATEWAY_AUDIT_DIR": str(audit_dir),
        "GATEWAY_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gateway")), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gateway did not become ready")


async def one(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], stream: bool, rng: random.Random
) -> tuple[float, float, str]:
    body = {
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": fresh_message(rng)}],
    }
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body, headers=headers) as response:
        async for _ in response.aiter_bytes():
            if first is None:
                first = time.perf_counter()
        timing = response.headers.get("server-timing", "")
    end = time.perf_counter()
    return (end - started) * 1000, ((first or end) - started) * 1000, timing


async def scenario(
    gateway: str, upstream: str, stream: bool, retrieval: bool, concurrency: int, requests: int
) -> dict[str, Any]:
    rng = random.Random(5)
    auth = {"Authorization": "Bearer sk-demo-bob"}
    if not retrieval:
        auth["x-gateway-retrieval"] = "off"
    direct_headers = {"Authorization": "Bearer sk-fake-upstream-key"}
    samples: dict[str, list[tuple[float, float, str]]] = {"direct": [], "gateway": []}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for _ in range(10):  # warm up both paths
            await one(client, f"{gateway}/v1/chat/completions", auth, stream, rng)
            await one(client, f"{upstream}/v1/chat/completions", direct_headers, stream, rng)
        queue = list(range(requests))

        async def worker() -> None:
            while queue:
                queue.pop()
                order = [
                    ("gateway", f"{gateway}/v1/chat/completions", auth),
                    ("direct", f"{upstream}/v1/chat/completions", direct_headers),
                ]
                rng.shuffle(order)
                for name, url, headers in order:
                    samples[name].append(await one(client, url, headers, stream, rng))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    gw = [s[0] for s in samples["gateway"]]
    dr = [s[0] for s in samples["direct"]]
    result: dict[str, Any] = {
        "stream": stream,
        "retrieval": retrieval,
        "concurrency": concurrency,
        "direct_p50_ms": round(statistics.median(dr), 2),
        "gateway_p50_ms": round(statistics.median(gw), 2),
        "added_p50_ms": round(statistics.median(gw) - statistics.median(dr), 2),
    }
    if stream:
        result["added_ttft_p50_ms"] = round(
            statistics.median(s[1] for s in samples["gateway"])
            - statistics.median(s[1] for s in samples["direct"]),
            2,
        )
    stages: dict[str, list[float]] = {}
    for _, _, timing in samples["gateway"]:
        for part in filter(None, (p.strip() for p in timing.split(","))):
            name, _, dur = part.partition(";dur=")
            stages.setdefault(name, []).append(float(dur))
    result["stage_p50_ms"] = {k: round(statistics.median(v), 2) for k, v in stages.items()}
    return result


def presidio_cost() -> dict[str, float]:
    from gateway.pii.analyzer import PresidioAnalyzer

    analyzer = PresidioAnalyzer(lean=True)  # the pipeline callers' messages go through
    analyzer.load()
    rng = random.Random(9)
    per_100: list[float] = []
    for _ in range(60):
        text = fresh_message(rng) + " " + fresh_message(rng)
        started = time.perf_counter()
        analyzer.analyze([text])
        per_100.append((time.perf_counter() - started) * 1000 * 100 / len(text))
    return {"presidio_ms_per_100_chars_p50": round(statistics.median(per_100), 2)}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    port = free_port()
    process = start_gateway(port, Path(args.audit_dir), not args.no_message_pii)
    gateway = f"http://127.0.0.1:{port}"
    upstream = os.environ["STACK_FAKE_UPSTREAM_URL"]
    results = []
    try:
        for concurrency in args.concurrency:
            for stream in (False, True):
                for retrieval in (True, False):
                    results.append(
                        await scenario(
                            gateway, upstream, stream, retrieval, concurrency, args.requests
                        )
                    )
                    print(json.dumps(results[-1]), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--audit-dir", default="/tmp/gateway-bench-audit")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument(
        "--no-message-pii",
        action="store_true",
        help="Gateway without Presidio on callers' messages (its own overhead).",
    )
    args = parser.parse_args()
    Path(args.audit_dir).mkdir(parents=True, exist_ok=True)
    results = asyncio.run(main_async(args))
    cost = presidio_cost()
    print(json.dumps(cost))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"scenarios": results, **cost}, indent=2))


if __name__ == "__main__":
    main()

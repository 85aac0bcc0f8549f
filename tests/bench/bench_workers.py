"""Workers benchmark: throughput and added latency of ``gateway serve --workers N``.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_workers.py                     # N = 1, 2, 4
    uv run python tests/bench/bench_workers.py --workers 1 2 --requests 400 --json out.json

For each N, starts ``gateway serve --workers N`` on the running stack (retrieval off per
request, ``x-gateway-retrieval: off``, and no PII analysis: the governed passthrough,
authorization + audit + forward; audit shipping to Elasticsearch on as in production),
then measures, side by side with direct calls to the fake upstream from the same load
generator: the added p50/p99 latency at concurrency 1 (gateway and direct calls
interleaved), and requests per second at concurrency ``--concurrency`` (gateway, then
direct). The load generator is this one Python process on the same machine, so the
direct figure is also its own ceiling. Requests/s count 200 answers only; other statuses
and failed connections (status 0) are listed. The demo subject's per-minute limits (policy
data, 600/min) would throttle the run: the bench raises them for ``bob`` through OPA's
data API and removes the override afterwards. Load averages are reported per N (the
machine is shared). Not a test; figures go into tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is our policy?"}]}
GATEWAY_HEADERS = {"Authorization": "Bearer sk-demo-bob", "x-gateway-retrieval": "off"}
DIRECT_HEADERS = {"Authorization": "Bearer sk-fake-upstream-key"}
LIMITS_PATH = "/v1/data/gateway/config/limits/subjects/bob"
GENEROUS = {
    "requests_per_minute": 10_000_000,
    "tokens_per_minute": 1_000_000_000,
    "concurrent_requests": 10_000,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(workers: int, port: int, audit_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_AUDIT_DIR": str(audit_dir),
        "GATEWAY_INDEX_PREFIX": "gateway-bench-workers",
        "GATEWAY_MESSAGE_PII_ANALYSIS": "false",
        "GATEWAY_FINETUNE_PII_SCAN": "false",
        "GATEWAY_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gateway")), "serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    locks = (
        [".audit.lock"] if workers == 1 else [f".audit-w{i}.lock" for i in range(1, workers + 1)]
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway exited"
        if all((audit_dir / lock).exists() for lock in locks):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    time.sleep(2)  # the last worker's lifespan finishes after its lock
                    return process
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gateway did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


async def call(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[float, int]:
    """(milliseconds, status); status 0 when the connection failed (counted, not retried)."""
    started = time.perf_counter()
    try:
        response = await client.post(url, json=BODY, headers=headers)
    except httpx.TransportError:
        return (time.perf_counter() - started) * 1000, 0
    return (time.perf_counter() - started) * 1000, response.status_code


async def latency(gateway: str, upstream: str, requests: int) -> dict[str, Any]:
    """Concurrency 1, gateway and direct calls interleaved on kept-alive connections."""
    samples: dict[str, list[float]] = {"gateway": [], "direct": []}
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(20):
            await call(client, gateway, GATEWAY_HEADERS)
            await call(client, upstream, DIRECT_HEADERS)
        for n in range(requests):
            order = [("gateway", gateway, GATEWAY_HEADERS), ("direct", upstream, DIRECT_HEADERS)]
            for name, url, headers in order if n % 2 else reversed(order):
                ms, status = await call(client, url, headers)
                if status == 200:
                    samples[name].append(ms)

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    gw, dr = samples["gateway"], samples["direct"]
    return {
        "direct_p50_ms": round(statistics.median(dr), 2),
        "gateway_p50_ms": round(statistics.median(gw), 2),
        "added_p50_ms": round(statistics.median(gw) - statistics.median(dr), 2),
        "added_p99_ms": round(p(gw, 99) - p(dr, 99), 2),
    }


async def throughput(
    url: str, headers: dict[str, str], concurrency: int, requests: int
) -> dict[str, Any]:
    """Requests per second with ``concurrency`` callers, each on its own connection pool
    slot (new connections spread over the workers)."""
    statuses: dict[int, int] = {}
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                _ms, status = await call(client, url, headers)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(call(client, url, headers) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    ok = statuses.get(200, 0)
    return {"req_per_s": round(ok / seconds, 1), "statuses": statuses}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    upstream = os.environ["STACK_FAKE_UPSTREAM_URL"] + "/v1/chat/completions"
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as temporary:
            port = free_port()
            process = start(workers, port, Path(temporary) / "audit")
            gateway = f"http://127.0.0.1:{port}/v1/chat/completions"
            load_before = os.getloadavg()
            try:
                row: dict[str, Any] = {"workers": workers}
                row.update(await latency(gateway, upstream, args.latency_requests))
                gw = await throughput(gateway, GATEWAY_HEADERS, args.concurrency, args.requests)
                dr = await throughput(upstream, DIRECT_HEADERS, args.concurrency, args.requests)
                row[f"gateway_c{args.concurrency}_req_per_s"] = gw["req_per_s"]
                row[f"direct_c{args.concurrency}_req_per_s"] = dr["req_per_s"]
                row["gateway_statuses"] = gw["statuses"]
                row["direct_statuses"] = dr["statuses"]
                row["load_average_before"] = [round(x, 2) for x in load_before]
                row["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            finally:
                stop(process)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"cpus": os.cpu_count(), "concurrency": args.concurrency, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000, help="per throughput run")
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args()
    opa = os.environ["GATEWAY_OPA_URL"]
    httpx.put(opa + LIMITS_PATH, json=GENEROUS, timeout=10).raise_for_status()
    try:
        results = asyncio.run(run(args))
    finally:
        httpx.delete(opa + LIMITS_PATH, timeout=10)
    print(json.dumps(results, indent=2))
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""PII at scale: cost vs input size, /healthz under load, fairness, start-up and memory.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_pii_scale.py                 # everything
    uv run python tests/bench/bench_pii_scale.py --only steps    # or gateway, fairness, startup

* ``steps``: the request path's CPU steps without NLP (body walking, segmentation, span
  resolution + redaction, placeholder restriction, answer restoration, SSE restoration)
  from 1 KB to 4 MB of text with 1 span per ~200 characters (up to 20k spans): time and
  time per MB, which stays flat when growth is linear.
* ``gateway``: a real ``gateway serve`` with one worker; chat requests whose caller text
  is 1 KB to 256 KB of dense contact lines (analysed by Presidio, limits raised to the
  largest size for the run), and messages of 1 MB and 3.9 MB, refused (413); a poller hits
  ``/healthz`` every 10 ms throughout and reports its worst latency per request.
* ``fairness``: chat analysis latency alone and while a bulk job (fine-tune-like scan)
  runs in the same one-worker pool.
* ``startup``: ``gateway serve`` exec to ``/readyz`` 200 (median of ``--startup-runs``,
  one line per run), CPU-seconds of the gateway and its worker at ready, and RSS of the
  gateway plus its workers at rest and after a bulk job (``--no-scan`` skips that one).

      uv run python tests/bench/bench_pii_scale.py --only startup --no-scan   # ~1 min

Not a test; figures go into tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gateway.analysis import AnalysisPool, PoolConfig  # noqa: E402
from gateway.analysis.segments import split  # noqa: E402
from gateway.answer_restore import SseRestorer, restore_completion  # noqa: E402
from gateway.pii.walker import walk  # noqa: E402
from gateway.redaction.apply import redact  # noqa: E402
from gateway.redaction.placeholders import Placeholders  # noqa: E402
from gateway.redaction.rules import RedactionRules  # noqa: E402

BOB = "sk-demo-bob"
FIRST = ["Ann", "Bob", "Carla", "Dev", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas"]
LAST = ["Example", "Smith", "Okafor", "Nakamura", "Silva", "Novak", "Berg", "Haddad"]


def contact_lines(chars: int, seed: int = 1) -> str:
    """Dense contact list: ~3 PII entities per ~60-character line."""
    rng = random.Random(seed)
    lines: list[str] = []
    total = 0
    while total < chars:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        line = (
            f"{first} {last}, +1 415 555 {rng.randrange(1000, 9999)}, "
            f"{first.lower()}.{last.lower()}{rng.randrange(100)}@example.com\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines)[:chars]


def synthetic_spans(text: str, every: int) -> list[dict[str, Any]]:
    """One PERSON span per ``every`` characters, plus an overlapping URL inside each
    tenth (as Presidio reports a URL inside an e-mail address)."""
    spans: list[dict[str, Any]] = []
    for n, start in enumerate(range(0, len(text) - 12, every)):
        spans.append({"type": "PERSON", "start": start, "end": start + 10, "score": 0.85})
        if n % 10 == 0:
            spans.append({"type": "URL", "start": start + 4, "end": start + 10, "score": 0.5})
    return spans


def _time(func: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def _collect(restorer: SseRestorer, chunks: list[bytes]) -> int:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return sum([len(c) async for c in restorer.process(source())])


def _step_row(size: int, rules: RedactionRules, measure_redact: bool) -> dict[str, Any]:
    text = "x" * size
    spans = synthetic_spans(text, 200)
    parts = [{"type": "text", "text": text[i : i + 1024]} for i in range(0, size, 1024)]
    messages = [{"role": "user", "content": parts}]
    placeholders = Placeholders(b"k")
    sent = _with_tokens(text, spans, placeholders)
    body = json.dumps({"messages": [{"role": "user", "content": sent}]})
    answer = json.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": sent}}]}
    ).encode()
    view = placeholders.restricted_to(body)
    events = [
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": sent[i : i + 1000]}}]}).encode()
        + b"\n\n"
        for i in range(0, len(sent), 1000)
    ]
    row: dict[str, Any] = {
        "chars": size,
        "spans": len(spans),
        "walk_parts_ms": _time(lambda: list(walk({"messages": messages}))),
        "segment_ms": _time(lambda: split([text], 2048)),
        "redact_ms": (
            _time(lambda: redact(text, spans, rules, Placeholders(b"k")), repeat=1)
            if measure_redact
            else None
        ),
        "restrict_ms": _time(lambda: placeholders.restricted_to(body)),
        "restore_ms": _time(lambda: restore_completion(answer, view)),
        "sse_restore_ms": _time(lambda: asyncio.run(_collect(SseRestorer(view), events))),
    }
    total = sum(v for k, v in row.items() if k.endswith("_ms") and v is not None)
    row["total_ms"] = total
    row["total_ms_per_mb"] = total / (size / 1_000_000)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}


def _with_tokens(text: str, spans: list[dict[str, Any]], placeholders: Placeholders) -> str:
    """The text with a distinct placeholder per PERSON span (what the model is sent)."""
    pieces, cursor = [], 0
    for n, span in enumerate(s for s in spans if s["type"] == "PERSON"):
        pieces += [text[cursor : span["start"]], placeholders.replace("PERSON", f"value {n}")]
        cursor = span["end"]
    return "".join([*pieces, text[cursor:]])


def steps(sizes: list[int], redact_budget_s: float) -> list[dict[str, Any]]:
    """Rows per size; span resolution (``redaction/apply.py``) stops being measured once
    one run of it exceeded ``redact_budget_s`` (it was quadratic before its rewrite)."""
    rules = RedactionRules(default="replace", restore=True)
    rows: list[dict[str, Any]] = []
    measure_redact = True
    for size in sizes:
        rows.append(_step_row(size, rules, measure_redact))
        redact_ms = rows[-1]["redact_ms"]
        measure_redact = redact_ms is not None and redact_ms < redact_budget_s * 1000
        print(json.dumps(rows[-1]), flush=True)
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(**env: str) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    audit = tempfile.mkdtemp(prefix="bench-pii-audit-")
    full = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_AUDIT_DIR": audit,
        "GATEWAY_API_KEYS_FILE": str(REPO / "deploy/local/demo/api-keys.yaml"),
        "GATEWAY_INDEX_PREFIX": "gateway-bench-pii",
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_AUDIT_INDEX_SHIPPING": "false",
        **env,
    }
    process, url, _, ready = _spawn_and_wait(full, port)
    return process, url, ready


def _spawn_and_wait(
    env: dict[str, str], port: int
) -> tuple[subprocess.Popen[bytes], str, float, float]:
    """Spawn ``gateway serve``; seconds until ``/healthz`` answers (polled every 20 ms,
    cheap), then until ``/readyz`` is 200 (polled every 100 ms: it asks ES, OPA and the
    audit disk, so polling it fast would inflate the gateway's own start-up).

    One client for all polls: ``httpx.get`` builds a client, and its TLS context, per
    call (~15 ms of CPU), so polling with it every 20 ms took most of a core from the
    gateway and its worker on this 2-core machine (start-up read 4.6 s instead of 3.6)."""
    with httpx.Client() as client:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gateway")), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        alive = None
        while True:
            if process.poll() is not None:
                raise RuntimeError("gateway exited")
            try:
                if alive is None:
                    if client.get(f"{url}/healthz", timeout=1).status_code == 200:
                        alive = time.perf_counter() - started
                        continue
                elif client.get(f"{url}/readyz", timeout=5).status_code == 200:
                    return process, url, alive, time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02 if alive is None else 0.1)


def rss_mb(root: int) -> dict[str, float]:
    """RSS of ``root`` and of all its descendants, in MB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except OSError:
                continue
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - tree
        tree |= frontier

    def rss(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    children = sorted(tree - {root})
    return {
        "gateway_mb": round(rss(root), 1),
        "workers_mb": round(sum(rss(p) for p in children), 1),
        "total_mb": round(sum(rss(p) for p in tree), 1),
        "processes": len(tree),
    }


async def _healthz_poller(url: str, stop: asyncio.Event, worst: list[float]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            await client.get(f"{url}/healthz")
            worst.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)


async def gateway_rows(sizes: list[int], refused: list[int]) -> list[dict[str, Any]]:
    limit = str(max(sizes) + 1)
    process, url, _ = start_gateway(
        GATEWAY_PII_WORKERS="1",
        GATEWAY_MESSAGE_PII_MAX_MESSAGE_CHARS=limit,
        GATEWAY_MESSAGE_PII_MAX_REQUEST_CHARS=limit,
        GATEWAY_PII_REQUEST_TIMEOUT_S="900",
    )
    rows = []
    headers = {"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"}
    try:
        async with httpx.AsyncClient(timeout=900) as client:
            stop, idle = asyncio.Event(), list[float]()
            poller = asyncio.create_task(_healthz_poller(url, stop, idle))
            await asyncio.sleep(3)
            stop.set()
            await poller
            rows.append(
                {
                    "chars": 0,
                    "healthz_max_ms": round(max(idle), 1),
                    "healthz_p50_ms": round(statistics.median(idle), 1),
                    "healthz_polls": len(idle),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            for size in sizes + refused:
                text = contact_lines(size, seed=size)
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
                stop, worst = asyncio.Event(), list[float]()
                poller = asyncio.create_task(_healthz_poller(url, stop, worst))
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/v1/chat/completions", json=body, headers=headers
                )
                elapsed = time.perf_counter() - started
                stop.set()
                await poller
                row = {
                    "chars": size,
                    "status": response.status_code,
                    "seconds": round(elapsed, 3),
                    "ms_per_kb": round(elapsed * 1000 / (size / 1000), 2),
                    "healthz_max_ms": round(max(worst), 1),
                    "healthz_p50_ms": round(statistics.median(worst), 1),
                    "healthz_polls": len(worst),
                    "server_timing": response.headers.get("server-timing"),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return rows


async def fairness(chats: int) -> dict[str, Any]:
    config = PoolConfig(workers=1)
    async with AnalysisPool(config) as pool:
        await pool.wait_ready(600)
        await pool.analyze(["warm the full engine: Ann Example"])
        rng = random.Random(3)

        async def chat_latencies() -> list[float]:
            out = []
            for n in range(chats):
                text = f"Message {n}: please call {rng.choice(FIRST)} {rng.choice(LAST)} today."
                started = time.perf_counter()
                await pool.analyze_messages([text])
                out.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.05)
            return out

        alone = await chat_latencies()
        bulk_texts = [contact_lines(600, seed=n) for n in range(400)]  # 240 KB, like an upload
        bulk = asyncio.create_task(pool.analyze(bulk_texts))
        await asyncio.sleep(0.5)
        during = await chat_latencies()
        bulk_still_running = not bulk.done()
        started = time.perf_counter()
        await bulk
        return {
            "chat_alone_p50_ms": round(statistics.median(alone), 1),
            "chat_alone_max_ms": round(max(alone), 1),
            "chat_during_bulk_p50_ms": round(statistics.median(during), 1),
            "chat_during_bulk_max_ms": round(max(during), 1),
            "bulk_still_running_after_chats": bulk_still_running,
            "bulk_batch_max_chars": config.batch_max_chars,
            "bulk_rest_s": round(time.perf_counter() - started, 1),
        }


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU time (user + system) used so far by ``root`` and by its children: on a busy
    machine, wall-clock start-up says more about the neighbours than about us."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    children = [
        int(e.name)
        for e in Path("/proc").iterdir()
        if e.name.isdigit() and _parent(int(e.name)) == root
    ]
    gateway, workers = used(root), sum(used(p) for p in children)
    return {
        "gateway_cpu_s": round(gateway, 2),
        "workers_cpu_s": round(workers, 2),
        "total_cpu_s": round(gateway + workers, 2),
    }


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def bytecode_coverage() -> float:
    """Share of the gateway's own modules with a current ``.pyc`` (timestamp-checked):
    ``uv sync --compile-bytecode`` leaves the editable project uncompiled, and where
    ``PYTHONDONTWRITEBYTECODE`` is set each start then compiles it again from source
    (``deploy/local/stack.sh install`` runs ``compileall``)."""
    sources = list((REPO / "gateway").rglob("*.py"))
    fresh = 0
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            header = cached.read_bytes()[:12]
        except OSError:
            continue
        fresh += int.from_bytes(header[8:12], "little") == int(source.stat().st_mtime)
    return round(fresh / len(sources), 3)


def startup(runs: int, scan: bool = True) -> dict[str, Any]:
    """``gateway serve`` as a user runs it (the console script, default settings but one
    PII worker): exec to ``/readyz`` 200, median of ``runs``; CPU-seconds of the gateway
    and of its workers at that moment; RSS of the whole process tree a second later."""
    times: list[float] = []
    alive: list[float] = []
    loads: list[float] = []
    mem: list[dict[str, float]] = []
    cpu: list[dict[str, float]] = []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        port = free_port()
        env = {
            **os.environ,
            "GATEWAY_PORT": str(port),
            "GATEWAY_AUDIT_DIR": tempfile.mkdtemp(prefix="bench-pii-audit-"),
            "GATEWAY_API_KEYS_FILE": str(REPO / "deploy/local/demo/api-keys.yaml"),
            "GATEWAY_INDEX_PREFIX": "gateway-bench-pii",
            "GATEWAY_LOG_LEVEL": "warning",
            "GATEWAY_AUDIT_INDEX_SHIPPING": "false",
            "GATEWAY_PII_WORKERS": "1",
        }
        process, _, healthz_s, seconds = _spawn_and_wait(env, port)
        times.append(seconds)
        alive.append(healthz_s)
        cpu.append(cpu_seconds(process.pid))
        time.sleep(1)
        mem.append(rss_mb(process.pid))
        process.terminate()
        process.wait(timeout=60)
        run = {"ready_s": round(seconds, 2), "healthz_s": round(healthz_s, 2), "load": loads[-1]}
        print(json.dumps({**run, **cpu[-1], **mem[-1]}), flush=True)
    summary = {
        "ready_s_median": round(statistics.median(times), 2),
        "ready_s_all": [round(t, 2) for t in times],
        "healthz_s_all": [round(t, 2) for t in alive],
        "load_average_at_each_start": loads,
        "cpu_to_ready": cpu,
        "total_cpu_s_median": statistics.median(c["total_cpu_s"] for c in cpu),
        "load_average": os.getloadavg(),
        "rss_at_rest": sorted(mem, key=lambda m: m["total_mb"])[len(mem) // 2],
        "gateway_bytecode_compiled": bytecode_coverage(),
    }
    if scan:
        summary["rss_after_finetune_scan"] = _rss_after_scan()
    return summary


def _rss_after_scan() -> dict[str, float]:
    process, url, _ = start_gateway(GATEWAY_PII_WORKERS="1")
    try:
        files = {"file": ("t.jsonl", _upload(60), "application/jsonl")}
        headers = {"Authorization": f"Bearer {BOB}"}
        stored = httpx.post(
            f"{url}/v1/files",
            data={"purpose": "fine-tune"},
            files=files,
            headers=headers,
            timeout=600,
        ).json()
        while stored.get("status") == "uploaded":  # the scan runs in the background
            time.sleep(0.5)
            stored = httpx.get(f"{url}/v1/files/{stored['id']}", headers=headers).json()
        after_bulk = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return after_bulk


def _upload(examples: int) -> bytes:
    lines = []
    for n in range(examples):
        messages = [
            {"role": "user", "content": f"Draft a friendly note number {n} about our offsite."},
            {"role": "assistant", "content": "Happy to help: here is a short, cheerful note."},
        ]
        lines.append(json.dumps({"messages": messages}))
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["steps", "gateway", "fairness", "startup"])
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument(
        "--no-scan", action="store_true", help="startup: skip RSS after a fine-tune scan"
    )
    parser.add_argument("--redact-budget-s", type=float, default=10.0)
    parser.add_argument("--max-analysed-kb", type=int, default=256)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only in (None, "steps"):
        sizes = [1_000 * 4**k for k in range(6)] + [4_000_000]
        results["steps"] = steps(sizes, args.redact_budget_s)
    if args.only in (None, "gateway"):
        sizes = [
            s for s in (1_000, 4_000, 16_000, 64_000, 256_000) if s <= args.max_analysed_kb * 1000
        ]
        results["gateway"] = asyncio.run(gateway_rows(sizes, refused=[1_000_000, 3_900_000]))
    if args.only in (None, "fairness"):
        results["fairness"] = asyncio.run(fairness(20))
        print(json.dumps(results["fairness"]), flush=True)
    if args.only in (None, "startup"):
        results["startup"] = startup(args.startup_runs, scan=not args.no_scan)
        print(json.dumps(results["startup"]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""What re-checking a stored file at each use adds to a chat request naming it.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_file_recheck.py --requests 200 --kb 2

Starts ``gateway serve`` over the demo corpus (index prefix ``gateway-bench-recheck``,
ingested on the first run), uploads one ``user_data`` text file of ``--kb`` KB as bob,
and times sequential chat requests (retrieval off, no message PII analysis, so that the
files stage is what differs):

- ``plain``: the same request without the file part;
- ``file, corpus unchanged``: naming the file;
- ``file, corpus changed``: naming the file, one corpus chunk re-written in place before
  each request (untimed), so every request finds a corpus its file was not matched
  against (the new code matches the file again; the old one does not look).

Run it alternately with an older commit (``PYTHONPATH`` set to a worktree of it) for an
A/B comparison. Prints medians, p99 and the gateway's CPU per request. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script
from tests.bench import finetune_data
from tests.bench.bench_chat import free_port
from tests.bench.bench_finetune_chat import process_cpu_s, start_gateway

PREFIX = "gateway-bench-recheck"
BOB = {"Authorization": "Bearer sk-demo-bob", "x-gateway-retrieval": "off"}


def notes(kb: float, rng: random.Random) -> bytes:
    """Ordinary business prose (``finetune_data.business_text``), ``kb`` KB of it."""
    lines: list[str] = []
    size = 0
    while size < kb * 1000:
        line = finetune_data.business_text(rng)
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


async def ensure_corpus() -> tuple[Any, str]:
    """The demo corpus under PREFIX (ingested once); a chunk id to rewrite."""
    from gateway.elastic import ChunkIndex
    from gateway.settings import load_settings
    from tests.integration.conftest import ingest_demo

    settings = load_settings(index_prefix=PREFIX)
    index = ChunkIndex.from_settings(settings)
    await index.__aenter__()
    await index.ensure_index()
    found = await index.client.search(index=index.name, size=1, query={"match_all": {}})
    if not found["hits"]["hits"]:
        await ingest_demo(index)
        found = await index.client.search(index=index.name, size=1, query={"match_all": {}})
    return index, str(found["hits"]["hits"][0]["_id"])


async def rewrite(index: Any, chunk_id: str) -> None:
    """Index one chunk again as it is: its _seq_no grows, the corpus state changes."""
    hit = await index.client.get(index=index.name, id=chunk_id)
    await index.client.index(index=index.name, id=chunk_id, document=hit["_source"], refresh=True)


async def upload(client: httpx.AsyncClient, url: str, content: bytes) -> str:
    response = await client.post(
        f"{url}/v1/files",
        headers=BOB,
        files={"file": ("notes.txt", content)},
        data={"purpose": "user_data"},
    )
    response.raise_for_status()
    file_id = str(response.json()["id"])
    while True:
        status = (await client.get(f"{url}/v1/files/{file_id}", headers=BOB)).json()
        if status["status"] != "uploaded":
            assert status["status"] == "processed", status
            return file_id
        await asyncio.sleep(0.1)


def body(file_id: str | None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "summarise the notes"}]
    if file_id:
        content.append({"type": "file", "file": {"file_id": file_id}})
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


async def timed(
    client: httpx.AsyncClient,
    url: str,
    file_id: str | None,
    requests: int,
    pid: int,
    before: Any = None,
) -> dict[str, float]:
    latencies, cpu = [], 0.0
    for _ in range(requests):
        if before is not None:
            await before()
        cpu_start = process_cpu_s(pid)
        started = time.perf_counter()
        response = await client.post(f"{url}/v1/chat/completions", json=body(file_id), headers=BOB)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu += process_cpu_s(pid) - cpu_start
        response.raise_for_status()
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "cpu_ms_per_request": round(cpu / requests * 1000, 2),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    index, chunk_id = await ensure_corpus()
    port = free_port()
    os.environ["GATEWAY_MESSAGE_PII_ANALYSIS"] = "false"
    with tempfile.TemporaryDirectory() as audit_dir:
        process = start_gateway(port, Path(audit_dir), 10_000_000, PREFIX)
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=120) as client:
                file_id = await upload(client, url, notes(args.kb, rng))
                await timed(client, url, file_id, 20, process.pid)  # warm-up
                result = {
                    "plain": await timed(client, url, None, args.requests, process.pid),
                    "file, corpus unchanged": await timed(
                        client, url, file_id, args.requests, process.pid
                    ),
                    "file, corpus changed": await timed(
                        client,
                        url,
                        file_id,
                        args.requests,
                        process.pid,
                        before=lambda: rewrite(index, chunk_id),
                    ),
                }
        finally:
            process.terminate()
            process.wait(timeout=30)
            await index.__aexit__(None, None, None)
    return {
        "code": os.environ.get("PYTHONPATH") or "this worktree",
        "kb": args.kb,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--kb", type=float, default=2.0, help="size of the file named")
    parser.add_argument("--seed", type=int, default=7)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()

"""Policy-diff benchmark: 100k chunks x 1k principals, two policy versions, on the real stack.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_policy_diff.py --chunks 100000 --principals 1000

Uses the retrieval benchmark's synthetic index (``gateway-bench-chunks-v1``, built when
missing), writes a keys file of ``--principals`` random principals (tenants, groups,
clearances; some are users named on documents), and diffs the repository's policies
against a copy where the ``internal`` clearance also reads ``confidential`` documents (a
change that widens access for many principals: the worst case, every filter changes).
Reports the whole command's wall time and CPU seconds (``gateway policy diff`` as a
subprocess, OPA start-up included; Elasticsearch's CPU meanwhile) with the load average,
and, in-process, each stage (OPA evaluation, Elasticsearch counting): its wall time, the
CPU seconds of OPA / Elasticsearch / this process, and what the compiles took (calls,
shapes, principals served from a template). Not a test: figures go into
tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from gateway.elastic import ChunkIndex
from gateway.policy_diff.compare import ChangeCounter
from gateway.policy_diff.diff import compare
from gateway.policy_diff.evaluate import evaluate, offered_models
from gateway.policy_diff.filters import CompileStats
from gateway.policy_diff.opa_server import OpaServer, find_opa
from gateway.policy_diff.principals import from_keys_file
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: the repository is not on the path
from tests.bench.bench_retrieval import GROUPS, TENANTS, synthetic_chunks  # noqa: E402

CLEARANCES = ["public", "internal", "confidential", "restricted"]


def keys_file(path: Path, count: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    groups = [g for g in GROUPS if g != "*"]
    keys = [
        {
            "id": f"bench-{n}",
            "sha256": hashlib.sha256(f"bench-{n}".encode()).hexdigest(),
            "subject": f"user{n}",
            "groups": rng.sample(groups, rng.randint(1, 3)),
            "attributes": {"tenant": rng.choice(TENANTS), "clearance": rng.choice(CLEARANCES)},
        }
        for n in range(count)
    ]
    path.write_text(yaml.safe_dump({"keys": keys}))


def widened(target: Path) -> Path:
    shutil.copytree(REPO / "policies", target)
    rego = target / "retrieval.rego"
    rego.write_text(
        rego.read_text().replace(
            '"internal": ["public", "internal"],',
            '"internal": ["public", "internal", "confidential"],',
        )
    )
    return target


async def ensure_index(chunks: int) -> int:
    settings = load_settings(index_prefix="gateway-bench")
    async with ChunkIndex.from_settings(settings) as index:
        if await index.ensure_index():
            started = time.perf_counter()
            await index.index_chunks(synthetic_chunks(chunks), refresh=True)
            print(f"indexed {chunks} chunks in {time.perf_counter() - started:.1f}s")
        return int((await index.client.count(index=index.name))["count"])


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (load-independent, unlike wall time)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def es_cpu_s() -> float:
    """CPU seconds of the stack's Elasticsearch: its launcher and every descendant."""
    path = REPO / ".stack" / "run" / "elasticsearch.pid"
    if not path.exists():
        return 0.0
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [int(path.read_text())]
    while todo:
        pid = todo.pop()
        try:
            total += cpu_s(pid)
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return total


async def phases(old: OpaServer, new: OpaServer, keys: Path) -> dict[str, Any]:
    """The diff's two stages in-process, with the CPU seconds each component spent."""
    old_url, new_url = old.url, new.url
    settings = load_settings(index_prefix="gateway-bench")
    principals = from_keys_file(keys)
    stats = {"from": CompileStats(), "to": CompileStats()}
    opa_cpu = cpu_s(old.pid) + cpu_s(new.pid)
    own_cpu = time.process_time()
    started = time.perf_counter()
    models = sorted(set(await offered_models(old_url)) | set(await offered_models(new_url)))
    before, after = await asyncio.gather(
        evaluate(old_url, principals, models, stats=stats["from"]),
        evaluate(new_url, principals, models, stats=stats["to"]),
    )
    evaluated = time.perf_counter()
    opa_cpu = cpu_s(old.pid) + cpu_s(new.pid) - opa_cpu
    evaluate_cpu = time.process_time() - own_cpu
    search_cpu = es_cpu_s()
    own_cpu = time.process_time()
    async with ChunkIndex.from_settings(settings) as index:
        changed = await compare(principals, before, after, ChangeCounter(index.client, index.name))
    counted = time.perf_counter()
    search_cpu = es_cpu_s() - search_cpu
    count_cpu = time.process_time() - own_cpu
    return {
        "principals": len(principals),
        "changed_principals": len(changed),
        "gaining": sum(1 for d in changed if d.gained.chunks),
        "stage_opa_evaluation": {
            "wall_s": round(evaluated - started, 2),
            "opa_cpu_s": round(opa_cpu, 2),
            "gateway_process_cpu_s": round(evaluate_cpu, 2),
            "compiles": {version: vars(s) for version, s in stats.items()},
        },
        "stage_elasticsearch_counting": {
            "wall_s": round(counted - evaluated, 2),
            "elasticsearch_cpu_s": round(search_cpu, 2),
            "gateway_process_cpu_s": round(count_cpu, 2),
        },
        "total_cpu_s": round(opa_cpu + evaluate_cpu + search_cpu + count_cpu, 2),
        "load_average_1min_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--principals", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chunks = asyncio.run(ensure_index(args.chunks))
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.yaml"
        keys_file(keys, args.principals)
        new = widened(Path(tmp) / "new")
        env = {**os.environ, "GATEWAY_INDEX_PREFIX": "gateway-bench"}
        load_before = os.getloadavg()[0]
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        es_before = es_cpu_s()
        started = time.perf_counter()
        command = [str(Path(sys.executable).parent / "gateway"), "policy", "diff"]
        command += ["--from", str(REPO / "policies"), "--to", str(new), "--keys-file", str(keys)]
        command += ["--json", "--details", "5"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        command_cpu = {  # the command and both its OPAs (waited children), and Elasticsearch
            "gateway_and_opas": round(
                children.ru_utime
                + children.ru_stime
                - children_before.ru_utime
                - children_before.ru_stime,
                2,
            ),
            "elasticsearch": round(es_cpu_s() - es_before, 2),
        }
        if result.returncode not in (0, 1):
            raise SystemExit(f"gateway policy diff failed ({result.returncode}): {result.stderr}")
        report = json.loads(result.stdout)
        opa = find_opa(os.environ.get("STACK_OPA_BIN"))
        with OpaServer(opa, REPO / "policies") as old_opa, OpaServer(opa, new) as new_opa:
            split = asyncio.run(phases(old_opa, new_opa, keys))
    figures = {
        "chunks": chunks,
        "exit_code": result.returncode,
        "command_wall_s": round(wall, 2),
        "load_average_1min_before_after": [load_before, load_after],
        "command_cpu_s": command_cpu,
        "summary": {k: v for k, v in report["summary"].items() if k != "corpora"},
        **split,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

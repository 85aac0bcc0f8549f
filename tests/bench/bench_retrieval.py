"""Retrieval benchmark: authorization-filtered search vs unfiltered, on the real stack.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_retrieval.py --chunks 100000 --queries 400

Indexes synthetic governed chunks into ``gateway-bench-chunks-v1`` (kept between runs;
``--reindex`` rebuilds), then measures, interleaved so machine noise hits both sides:
search latency without a filter and with each subject's compiled authorization filter,
the cached filter path, a cache miss (OPA compile + translate) and the batched re-check.
Not a test: numbers go to stdout (and ``--json``), figures into tests/bench/README.md.

``--recheck-only`` measures just the per-hit re-check of 5 documents shared with long
access lists (N groups x N users, ``--list-sizes``), with the shipped policy (membership
per list comparison) and, up to ``--old-max`` entries, the enumeration of every
combination it replaced (tests/fixtures/views_reference.rego, loaded for the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler
from gateway.retrieval.retriever import policy_view
from gateway.retrieval.translator import MATCH_ALL
from gateway.settings import load_settings

TENANTS = ["acme", "globex", "initech", "umbrella"]
CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]
GROUPS = ["engineering", "sales", "security", "legal", "hr", "finance", "support", "*"]
USERS = [f"user{n}" for n in range(200)]
SUBJECTS = [
    Principal("user1", ("engineering",), {"tenant": "acme", "clearance": "confidential"}),
    Principal("user2", ("sales", "support"), {"tenant": "globex", "clearance": "internal"}),
    Principal("user3", ("security", "legal", "hr"), {"tenant": "acme", "clearance": "restricted"}),
]


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(size)]


def synthetic_chunks(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like
    for n in range(count):
        doc = n // 4
        yield {
            "chunk_id": f"bench-{n}",
            "doc_id": f"doc-{doc}",
            "doc_version": "1",
            "chunk_index": n % 4,
            "corpus": rng.choice(["wiki", "tickets", "contracts"]),
            "title": " ".join(rng.choices(words, weights, k=4)),
            "classification": rng.choice(CLASSIFICATIONS),
            "tenant": rng.choice(TENANTS),
            "owner": rng.choice(USERS),
            "allowed_groups": rng.sample(GROUPS, rng.randint(0, 3)),
            "allowed_users": rng.sample(USERS, rng.randint(0, 2)),
            "labels": [],
            "text": " ".join(rng.choices(words, weights, k=80)),
        }


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p99_ms": round(pct(samples_ms, 0.99), 3),
        "n": len(samples_ms),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(index_prefix="gateway-bench")
    rng = random.Random(11)
    words = vocabulary(random.Random(7))
    async with (
        ChunkIndex.from_settings(settings) as index,
        PolicyEngine(str(settings.opa_url), 5.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        if args.reindex:
            await index.delete_index()
        if await index.ensure_index() or args.reindex:
            started = time.perf_counter()
            await index.index_chunks(synthetic_chunks(args.chunks), refresh=True)
            print(f"indexed {args.chunks} chunks in {time.perf_counter() - started:.1f}s")
        compiler = FilterCompiler(policy, revision)
        filters = {s.subject: (await compiler.filter_for(s)).es_filter for s in SUBJECTS}
        queries = [
            " ".join(rng.choices(words[:2000], k=rng.randint(2, 3))) for _ in range(args.queries)
        ]
        for query in queries[:50]:  # warm caches on both paths
            await index.search(query, authorization_filter=MATCH_ALL, k=5)
            await index.search(query, authorization_filter=filters["user1"], k=5)
        unfiltered: list[float] = []
        filtered: list[float] = []
        for i, query in enumerate(queries):
            subject = SUBJECTS[i % len(SUBJECTS)]
            order = [("u", MATCH_ALL), ("f", filters[subject.subject])]
            rng.shuffle(order)
            for kind, clause in order:
                started = time.perf_counter()
                await index.search(query, authorization_filter=clause, k=5)
                elapsed = (time.perf_counter() - started) * 1000
                (unfiltered if kind == "u" else filtered).append(elapsed)
        cached: list[float] = []
        for i in range(20000):
            started = time.perf_counter()
            await compiler.filter_for(SUBJECTS[i % len(SUBJECTS)])
            cached.append((time.perf_counter() - started) * 1000)
        misses: list[float] = []
        for _ in range(200):
            started = time.perf_counter()
            await compiler.compile(SUBJECTS[0], "bench")
            misses.append((time.perf_counter() - started) * 1000)
        hits = await index.search(queries[0], authorization_filter=filters["user1"], k=5)
        views = [policy_view(h, index.schema) for h in hits]
        rechecks: list[float] = []
        for _ in range(200):
            started = time.perf_counter()
            await policy.allow_documents(SUBJECTS[0], views)
            rechecks.append((time.perf_counter() - started) * 1000)
        count = (await index._client.count(index=index.name))["count"]
    unf, fil = summary(unfiltered), summary(filtered)
    return {
        "chunks": count,
        "search_unfiltered": unf,
        "search_filtered": fil,
        "filter_overhead_p50_pct": round(100 * (fil["p50_ms"] / unf["p50_ms"] - 1), 1),
        "cached_filter_path": {
            **summary(cached),
            "p50_us": round(statistics.median(cached) * 1000, 2),
        },
        "filter_compile_miss": summary(misses),
        "recheck_5_hits": summary(rechecks),
    }


REFERENCE = Path(__file__).parents[1] / "fixtures" / "views_reference.rego"
BOB = Principal("bob", ("sales",), {"tenant": "acme", "clearance": "internal"})


def shared_document(size: int, n: int) -> dict[str, Any]:
    """A document shared with ``size`` groups and users; the caller's group comes last."""
    return {
        "doc_id": f"shared-{n}",
        "tenant": "acme",
        "classification": "internal",
        "allowed_groups": [f"group-{i}" for i in range(size - 1)] + ["sales"],
        "allowed_users": [f"user-{i}" for i in range(size)],
        "labels": [],
    }


async def recheck_lists(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with PolicyEngine(args.opa_url, args.old_timeout) as policy:
        for size in args.list_sizes:
            docs = [shared_document(size, n) for n in range(5)]
            assert await policy.allow_documents(BOB, docs) == [True] * 5
            samples: list[float] = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                await policy.allow_documents(BOB, docs)
                samples.append((time.perf_counter() - started) * 1000)
            results[f"membership_{size}x{size}"] = summary(samples)
            if size > args.old_max:
                continue
            old: list[float] = []
            for _ in range(max(1, args.repeat // 10)):
                started = time.perf_counter()
                try:
                    verdicts = await policy.allow_documents(
                        BOB, docs, package="gateway.test_views_reference"
                    )
                except DependencyUnavailable:
                    results[f"enumeration_{size}x{size}"] = (
                        f"no answer within {args.old_timeout:.0f} s"
                    )
                    break
                old.append((time.perf_counter() - started) * 1000)
                assert verdicts == [True] * 5
            else:
                results[f"enumeration_{size}x{size}"] = summary(old)
            print(json.dumps(results), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--reindex", action="store_true")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--recheck-only", action="store_true")
    parser.add_argument(
        "--list-sizes", type=lambda v: [int(x) for x in v.split(",")], default=[250, 2000]
    )
    parser.add_argument("--old-max", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--old-timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.recheck_only:
        args.opa_url = str(load_settings().opa_url).rstrip("/")
        reference = f"{args.opa_url}/v1/policies/bench-views-reference"
        httpx.put(reference, content=REFERENCE.read_bytes()).raise_for_status()
        try:
            results = asyncio.run(recheck_lists(args))
        finally:
            httpx.delete(reference)
    else:
        results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()

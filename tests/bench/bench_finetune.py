"""Fine-tune guard benchmark: detection rates and scan throughput, on the real stack.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_finetune.py --examples 1000

The governed corpus is natural technical English: the docstrings of a set of standard
library packages, one document per module, ingested through the real pipeline (chunking,
records, fingerprints; Presidio replaced by a no-op, since PII is not what is measured)
into ``gateway-bench-ft-chunks-v1`` as a restricted corpus. Training files are then built
from it and scanned with the gateway's own scanner and the default policy (OPA):

    (a) verbatim passages (20-120 words) of governed chunks
    (b) the same passages lightly edited: case, whitespace and punctuation changed, ~20% of
        words replaced or swapped with a neighbour, sentences shuffled
    (c) unrelated text: docstrings of other (third-party) packages, same style and domain

An example counts as refused when the policy names its line. Throughput is the scan of a
~5 MB JSONL file (parse + fingerprint + Elasticsearch search), without Presidio, and
separately Presidio alone on a smaller sample (it is linear in characters). Not a test:
numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import functools
import json
import os
import random
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.analysis import AnalysisPool
from gateway.elastic import ChunkIndex
from gateway.finetune.helper import NICE
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import CorpusMatcher
from gateway.finetune.pii_plan import policy_plan
from gateway.finetune.pii_scan import MAX_LINES
from gateway.finetune.scan import UploadScanner
from gateway.fingerprint import SCHEME
from gateway.identity import Principal
from gateway.ingest.manifest import Manifest
from gateway.ingest.pipeline import IngestOptions, run_ingest
from gateway.pii.analyzer import PiiSpan
from gateway.policy import PolicyEngine
from gateway.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script
from tests.bench import finetune_data, identifier_data

GOVERNED_PACKAGES = [
    "email", "http", "asyncio", "logging", "json", "unittest", "multiprocessing",
    "concurrent", "importlib", "xml", "urllib", "collections", "sqlite3", "ctypes",
    "tomllib", "zoneinfo", "venv", "wsgiref", "dbm", "html", "pydoc_data", "idlelib",
]  # fmt: skip
UNRELATED_PACKAGES = [
    "litestar", "pydantic", "elasticsearch", "httpx", "presidio_analyzer", "spacy",
    "structlog", "openai", "yaml", "click", "rich", "jwt", "cryptography",
]  # fmt: skip
CORPUS = "bench-governed"
BENCH = Principal("bench", ("engineering",), {"tenant": "bench"})
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class NoPii:
    """SpanAnalyzer stand-in: the benchmark measures fingerprints, not Presidio."""

    def load(self) -> None:
        return None

    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        return [[] for _ in texts]


def docstrings(root: Path, min_chars: int = 200) -> dict[str, str]:
    """module path -> its docstrings (module, classes, functions) joined, per module."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        nodes = [
            tree,
            *(
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            ),
        ]
        texts = [d for n in nodes if (d := ast.get_docstring(n)) and len(d) >= min_chars]
        if texts:
            found[str(path)] = "\n\n".join(texts)
    return found


def package_roots(names: list[str], base: Path) -> list[Path]:
    return [base / n for n in names if (base / n).is_dir()]


def passage(text: str, rng: random.Random) -> str:
    words = text.split()
    size = min(len(words), rng.randint(20, 120))
    start = rng.randint(0, max(0, len(words) - size))
    return " ".join(words[start : start + size])


def edit(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Light edits: sentences shuffled, ~10% of words replaced and ~10% swapped with a
    neighbour, case, whitespace and punctuation changed."""
    sentences = _SENTENCE.split(text)
    rng.shuffle(sentences)
    words = " ".join(sentences).split()
    for i in range(len(words)):
        roll = rng.random()
        if roll < 0.10:
            words[i] = rng.choice(vocabulary)
        elif roll < 0.15 and i + 1 < len(words):  # a swap moves two words: ~10% reordered
            words[i], words[i + 1] = words[i + 1], words[i]
    out = []
    for word in words:
        if rng.random() < 0.3:
            word = word.upper() if rng.random() < 0.5 else word.capitalize()
        if rng.random() < 0.2:
            word = word.strip(".,;:()'\"") + rng.choice([",", ";", " -", "!", ""])
        out.append(word + ("  " if rng.random() < 0.1 else " "))
    return "".join(out).strip()


def example(text: str, rng: random.Random) -> dict[str, Any]:
    question = rng.choice(["Explain this.", "What does it do?", "Summarise the docs.", "Help"])
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": text},
        ]
    }


def to_jsonl(examples: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in examples).encode()


async def refused_lines(
    scanner: UploadScanner, policy: PolicyEngine, content: bytes
) -> tuple[set[int], list[float]]:
    scan = await scanner.scan(content)
    decision = await policy.finetune(
        BENCH, "files.create", {"purpose": "fine-tune", "scan": scan.policy_input()}
    )
    lines = {line for v in decision.violations for line in v.get("lines", [])}
    best: dict[int, float] = {}
    for overlap in scan.overlaps:
        best[overlap.line] = max(best.get(overlap.line, 0.0), overlap.score)
    return lines, [best.get(line, 0.0) for line in range(1, scan.examples + 1)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = "gateway-bench-ft-all" if args.all_stdlib else "gateway-bench-ft"
    settings = load_settings(index_prefix=prefix)
    rng = random.Random(args.seed)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    roots = [stdlib] if args.all_stdlib else package_roots(GOVERNED_PACKAGES, stdlib)
    governed = {
        k: v
        for root in roots
        for k, v in docstrings(root).items()
        if "site-packages" not in k and "/test" not in k
    }
    unrelated = [
        v for root in package_roots(UNRELATED_PACKAGES, site) for v in docstrings(root).values()
    ]
    results: dict[str, Any] = {"fingerprint_scheme": SCHEME}
    async with (
        ChunkIndex.from_settings(settings) as index,
        PolicyEngine(str(settings.opa_url), 30.0) as policy,
        ScanHelpers(args.helpers, thread=args.thread, nice=args.nice) as helper,
    ):
        if args.reindex:
            await index.delete_index()
        with tempfile.TemporaryDirectory() as tmp:
            for n, text in enumerate(governed.values()):
                (Path(tmp) / f"doc{n:05d}.txt").write_text(text, encoding="utf-8")
            manifest = Manifest.model_validate(
                {"defaults": {"classification": "restricted", "tenant": "bench"}}
            )
            started = time.perf_counter()
            report = await run_ingest(
                [Path(tmp)],
                IngestOptions(corpus=CORPUS, manifest=manifest),
                index=index,
                analyzer=NoPii(),
            )
            results["ingest"] = {
                "documents": len(governed),
                "chars": sum(len(t) for t in governed.values()),
                "chunks_written": report.chunks_written,
                "seconds": round(time.perf_counter() - started, 1),
            }
        hits = await index.client.search(
            index=index.name, size=10000, source_includes=["text"], query={"match_all": {}}
        )
        chunk_texts = [h["_source"]["text"] for h in hits["hits"]["hits"]]
        results["ingest"]["chunks_in_index"] = len(chunk_texts)
        vocabulary = sorted({w for t in unrelated for w in t.split() if w.isalpha()})
        verbatim = [passage(rng.choice(chunk_texts), rng) for _ in range(args.examples)]
        edited = [edit(p, rng, vocabulary) for p in verbatim]
        other = [passage(rng.choice(unrelated), rng) for _ in range(args.examples)]
        scanner = UploadScanner(
            CorpusMatcher(index.client, index.name, settings.finetune_search_batch),
            None,
            helper=helper,
        )
        for name, texts in (("verbatim", verbatim), ("edited", edited), ("unrelated", other)):
            content = to_jsonl([example(t, rng) for t in texts])
            if args.only is not None:
                continue  # the same random draws as a full run, so the same 5 MB file
            lines, scores = await refused_lines(scanner, policy, content)
            results[name] = {
                "examples": len(texts),
                "refused": len(lines),
                "refused_pct": round(100 * len(lines) / len(texts), 2),
                "score_p5": round(sorted(scores)[len(scores) // 20], 3),
                "score_median": round(statistics.median(scores), 3),
                "score_p95": round(sorted(scores)[len(scores) * 19 // 20], 3),
                "score_max": round(max(scores), 3),
            }
        # Throughput: a ~5 MB mixed file, scanned without Presidio (best of 3).
        # Every example distinct (a third each of verbatim, edited and unrelated passages),
        # so no cache helps beyond the repeated system prompt and questions.
        mixed: list[dict[str, Any]] = []
        size = 0
        while size < args.mb * 1e6:
            text = passage(rng.choice(chunk_texts), rng)
            choice = rng.randrange(3)
            if choice == 1:
                text = edit(text, rng, vocabulary)
            elif choice == 2:
                text = passage(rng.choice(unrelated), rng)
            mixed.append(example(text, rng))
            size += len(json.dumps(mixed[-1])) + 1
        content = to_jsonl(mixed)
        runs = []
        for _ in range(3):
            helper_cpu = await _helpers_cpu_s(helper)
            started, cpu = time.perf_counter(), time.process_time()
            scan = await scanner.scan(content)
            ended, cpu = time.perf_counter() - started, time.process_time() - cpu
            helper_cpu = [
                b - a for a, b in zip(helper_cpu, await _helpers_cpu_s(helper), strict=True)
            ]
            runs.append((ended, cpu, scan.timings_ms, helper_cpu))
        seconds, cpu_s, timings, helpers_cpu_s = sorted(runs, key=lambda r: r[0])[1]
        results["throughput_without_presidio"] = {
            "bytes": len(content),
            "examples": len(mixed),
            "seconds_median_of_3": round(seconds, 3),
            "mb_per_s": round(len(content) / seconds / 1e6, 2),
            "process_cpu_s": round(cpu_s, 3),
            "mb_per_cpu_s": round(len(content) / cpu_s / 1e6, 2),
            "helper_cpu_s": round(sum(helpers_cpu_s), 3),
            "helpers_cpu_s": [round(one, 3) for one in helpers_cpu_s],
            "helpers": len(helper.helpers),
            "thread": helper.thread,
            "load_average_1min": os.getloadavg()[0],
            "stages_ms": timings,
            "all_runs_s": [round(r[0], 3) for r in runs],
            "all_runs_cpu_s": [round(r[1], 3) for r in runs],
            "all_runs_helper_cpu_s": [round(sum(r[3]), 3) for r in runs],
            "helpers_peak_rss_mb": [_peak_rss_mb(one.pid) for one in helper.helpers if one.pid],
            "gateway_peak_rss_mb": _peak_rss_mb(os.getpid()),
        }
        # The match again at job creation (the whole file, against the corpus as it is).
        rechecks = []
        for _ in range(3):
            started = time.perf_counter()
            await scanner.recheck(content, "fine-tune")
            rechecks.append(time.perf_counter() - started)
        results["recheck_at_job_creation"] = {
            "bytes": len(content),
            "seconds_median_of_3": round(statistics.median(rechecks), 3),
        }
        if args.only == "match":
            return results
        # Long ungoverned examples (four passages each): where common phrasing adds up, so
        # what the policy's absolute measures (min_shared_chars, min_shared_total) cost.
        # Their own draws: the rows after this one keep the draws of earlier runs.
        own = random.Random(args.seed + 17)
        long_other = [
            " ".join(passage(own.choice(unrelated), own) for _ in range(4))
            for _ in range(args.examples)
        ]
        lines, _ = await refused_lines(
            scanner, policy, to_jsonl([example(t, own) for t in long_other])
        )
        results["unrelated_long"] = {
            "examples": len(long_other),
            "refused": len(lines),
            "refused_pct": round(100 * len(lines) / len(long_other), 2),
        }
        business = [finetune_data.business_text(rng) for _ in range(args.examples)]
        if args.only == "pii":
            results.update(await with_presidio(index, policy, other, business, mixed, rng, args))
            return results
        content = to_jsonl([example(t, rng) for t in business])
        lines, _ = await refused_lines(scanner, policy, content)
        results["business"] = {
            "examples": len(business),
            "refused": len(lines),
            "refused_pct": round(100 * len(lines) / len(business), 2),
        }
        results["evasion"] = await evasion(scanner, policy, chunk_texts, unrelated, rng, args)
        if not args.no_presidio:
            results.update(await with_presidio(index, policy, other, business, mixed, rng, args))
    return results


async def evasion(
    scanner: UploadScanner,
    policy: PolicyEngine,
    chunk_texts: list[str],
    unrelated: list[str],
    rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, float]:
    """Refusal rate per disguise over passages of 30-120 governed words, one file each."""
    sources = [t for t in chunk_texts if len(t.split()) >= 60]
    passages: list[str] = []
    while len(passages) < args.evasion_passages:
        text = passage(rng.choice(sources), rng)
        if len(text.split()) >= 30:
            passages.append(text)
    filler = [s for t in unrelated for s in _SENTENCE.split(t) if 40 < len(s) < 200]
    vocabulary = sorted({w.strip(".,;:()`'\"").lower() for s in filler for w in s.split()})
    vocabulary = [w for w in vocabulary if w.isalpha()]
    builders: dict[str, Callable[[str, random.Random], list[finetune_data.Record]]] = {
        **finetune_data.DISGUISES,
        "excerpt_in_long_example": lambda t, r: finetune_data.excerpt_in_long_example(t, r, filler),
        "two_word_pieces_between_filler": lambda t, r: finetune_data.pieces_between_filler(
            t, r, filler
        ),
        **{name: finetune_data.scrambled(name) for name in finetune_data.SCRAMBLES},
        "two_real_two_random_words": lambda t, r: finetune_data.two_real_two_random(
            t, r, vocabulary
        ),
    }
    rates: dict[str, float] = {}
    for name, build in builders.items():
        refused = 0
        for text in passages:
            records = [finetune_data.chat("Hello there."), *build(text, rng)]
            if not await denied(scanner, policy, to_jsonl(records)):
                continue
            refused += 1
        rates[f"{name}_refused_pct"] = round(100 * refused / len(passages), 1)
    # Ungoverned passages cut the same way (their own draws): what the short-texts pass
    # costs in false refusals, its pieces being segmented without the filler around them.
    own = random.Random(args.seed + 13)
    benign = [passage(own.choice(unrelated), own) for _ in range(args.evasion_passages)]
    refused = 0
    for text in benign:
        records = finetune_data.pieces_between_filler(text, own, filler)
        refused += await denied(scanner, policy, to_jsonl([finetune_data.chat("Hi."), *records]))
    rates["benign_two_word_pieces_between_filler_refused_pct"] = round(
        100 * refused / len(benign), 1
    )
    rates.update(await benign_for_views(scanner, policy, unrelated, args))
    return rates


async def benign_for_views(
    scanner: UploadScanner,
    policy: PolicyEngine,
    unrelated: list[str],
    args: argparse.Namespace,
) -> dict[str, float]:
    """Refused lines of ordinary text where a reading of scrambled-looking text back
    could misfire: other languages, code, tables of figures; and ungoverned passages
    scrambled each way (a scramble read back alone must not refuse)."""
    from faker import Faker  # a dev dependency: word lists of other languages

    own = random.Random(args.seed + 23)
    texts: dict[str, list[str]] = {}
    for name, locale in (("french", "fr_FR"), ("german", "de_DE"), ("spanish", "es_ES")):
        fake = Faker(locale)
        fake.seed_instance(args.seed)
        texts[name] = [fake.paragraph(nb_sentences=own.randint(3, 8)) for _ in range(args.examples)]
    chinese = Faker("zh_CN")
    chinese.seed_instance(args.seed)
    texts["chinese"] = [chinese.paragraph(nb_sentences=6) for _ in range(args.examples)]
    lines = [
        line
        for root in package_roots(UNRELATED_PACKAGES, Path(sysconfig.get_paths()["purelib"]))
        for path in sorted(root.rglob("*.py"))[:40]
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    code = []
    for _ in range(args.examples):
        start = own.randrange(max(1, len(lines) - 30))
        code.append("\n".join(lines[start : start + own.randint(8, 30)]))
    texts["code"] = code
    texts["number_tables"] = [finetune_data.number_table(own) for _ in range(args.examples)]
    scrambles = list(finetune_data.SCRAMBLES.values())
    texts["scrambled_unrelated"] = [
        own.choice(scrambles)(passage(own.choice(unrelated), own), own)
        for _ in range(args.examples)
    ]
    rates: dict[str, float] = {}
    for name, rows in texts.items():
        lines_refused, _ = await refused_lines(
            scanner, policy, to_jsonl([example(t, own) for t in rows])
        )
        rates[f"benign_{name}_refused_pct"] = round(100 * len(lines_refused) / len(rows), 2)
    return rates


async def denied(scanner: UploadScanner, policy: PolicyEngine, content: bytes) -> bool:
    scan = await scanner.scan(content)
    decision = await policy.finetune(
        BENCH, "files.create", {"purpose": "fine-tune", "scan": scan.policy_input()}
    )
    return not decision.allow


async def with_presidio(
    index: ChunkIndex,
    policy: PolicyEngine,
    technical: list[str],
    business: list[str],
    mixed: list[dict[str, Any]],
    rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """False refusals of ordinary text with the default PII scan, and its throughput,
    with the PII work in an analysis pool of one worker, as the gateway runs it."""
    from gateway.analysis import PoolConfig

    async with AnalysisPool(PoolConfig(workers=1, preload=())) as pool:
        await pool.wait_ready(300)
        return await _pii_rows(pool, index, policy, (technical, business), mixed, rng, args)


async def _pii_rows(
    pool: AnalysisPool,
    index: ChunkIndex,
    policy: PolicyEngine,
    ordinary: tuple[list[str], list[str]],
    mixed: list[dict[str, Any]],
    rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, Any]:
    technical, business = ordinary
    # Its own random stream: the rows after this one scan the same files as before.
    own = random.Random(args.seed + 1)
    references = [finetune_data.reference_text(own) for _ in range(len(business))]
    # Likewise: identifiers of ordinary data (order, tracking, EAN, ISBN, serial, IBAN-like
    # references, versions...) and real personal identifiers (identifier_data).
    kinds = random.Random(args.seed + 2)
    identifiers = [identifier_data.ordinary_line(kinds) for _ in range(len(business))]
    personal = [identifier_data.personal_line(kinds) for _ in range(len(business))]
    results: dict[str, Any] = {}
    matcher = CorpusMatcher(index.client, index.name)
    # What the gateway scans for: the default policy's plan (its blocked types, no NER).
    plan = functools.partial(policy_plan, policy)
    scanner = UploadScanner(
        matcher, pool.analyze, analyze_patterns=pool.analyze_patterns, pii_plan=plan
    )
    for name, texts in (
        ("technical", technical),
        ("business", business),
        ("references", references),
        ("identifiers", identifiers),
    ):
        content = to_jsonl([example(t, rng) for t in texts])
        scan = await scanner.scan(content)
        decision = await policy.finetune(
            BENCH, "files.create", {"purpose": "fine-tune", "scan": scan.policy_input()}
        )
        lines = {line for v in decision.violations for line in v.get("lines", [])}
        pii_lines = {line for v in decision.violations if v["kind"] == "pii" for line in v["lines"]}
        results[f"false_refusals_with_pii_{name}"] = {
            "examples": len(texts),
            "refused_pct": round(100 * len(lines) / len(texts), 2),
            "refused_for_pii_pct": round(100 * len(pii_lines) / len(texts), 2),
            "pii_types": sorted({str(v["type"]) for v in decision.violations if "type" in v}),
        }
    # Real personal identifiers, one a line: each line should be refused. A finding names
    # its first 100 lines only (MAX_LINES), so files of 100 lines.
    refused = 0
    for first in range(0, len(personal), MAX_LINES):
        content = to_jsonl([example(t, rng) for t in personal[first : first + MAX_LINES]])
        scan = await scanner.scan(content)
        decision = await policy.finetune(
            BENCH, "files.create", {"purpose": "fine-tune", "scan": scan.policy_input()}
        )
        refused += len({ln for v in decision.violations if v["kind"] == "pii" for ln in v["lines"]})
    results["pii_detection_personal_identifiers"] = {
        "examples": len(personal),
        "refused_for_pii_pct": round(100 * refused / len(personal), 2),
    }
    # The default scan of a mixed file (docstring passages), the same forced through
    # NER, and the default scan of digit-dense business text (every sentence has
    # figures, dates or references: most of it lies in candidate windows).
    count = int(4000 * max(1.0, args.presidio_mb))
    business_records = [example(finetune_data.business_text(rng), rng) for _ in range(count)]
    samples = (
        ("default", False, _first_mb(mixed, args.presidio_mb)),
        ("ner", True, _first_mb(mixed, args.presidio_mb / 20)),
        ("business", False, _first_mb(business_records, args.presidio_mb)),
    )
    for label, ner, sample in samples:
        content = to_jsonl(sample)
        timed = UploadScanner(
            matcher,
            pool.analyze,
            pii_ner=ner,
            analyze_patterns=pool.analyze_patterns,
            pii_plan=plan,
        )
        # A scan of 1 MB is a 1 to 2 s sample whose spread on a shared host is larger
        # than a change to the lane: the pattern-lane rows report a median of runs.
        runs = [
            await _timed_scan(timed, content, pool.pids())
            for _ in range(1 if ner else args.pii_runs)
        ]
        seconds, cpu_s, worker_cpu_s, stages = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
        results[f"throughput_with_presidio_{label}"] = {
            "bytes": len(content),
            "seconds": round(seconds, 3),
            "mb_per_s": round(len(content) / seconds / 1e6, 3),
            "process_cpu_s": round(cpu_s, 3),
            "mb_per_cpu_s": round(len(content) / cpu_s / 1e6, 3),
            "worker_cpu_s": round(worker_cpu_s, 3),
            "load_average_1min": os.getloadavg()[0],
            "stages_ms": stages,
            "all_runs_s": [round(run[0], 3) for run in runs],
            "all_runs_pii_ms": [run[3]["pii"] for run in runs],
            "all_runs_worker_cpu_s": [round(run[2], 3) for run in runs],
        }
    return results


async def _timed_scan(
    scanner: UploadScanner, content: bytes, workers: list[int]
) -> tuple[float, float, float, dict[str, float]]:
    """Wall seconds, this process's and the workers' CPU-s, and the stages of one scan."""
    worker_cpu = sum(_cpu_s(pid) for pid in workers)
    started, cpu = time.perf_counter(), time.process_time()
    scan = await scanner.scan(content)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu_s, sum(_cpu_s(pid) for pid in workers) - worker_cpu, scan.timings_ms


def _first_mb(records: list[dict[str, Any]], megabytes: float) -> list[dict[str, Any]]:
    """The first records of ``records`` that make up about ``megabytes`` of JSONL."""
    sample: list[dict[str, Any]] = []
    size = 0
    for record in records:
        sample.append(record)
        size += len(json.dumps(record)) + 1
        if size >= megabytes * 1e6:
            break
    return sample


async def _helpers_cpu_s(helpers: ScanHelpers) -> list[float]:
    """Each helper's CPU seconds so far (starting it if it is not up)."""
    return [await one.run(time.process_time) for one in helpers.helpers]


def _peak_rss_mb(pid: int) -> float:
    """Process ``pid``'s peak resident memory (Linux ``/proc``: ``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024, 1)  # type: ignore[index]


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--mb", type=float, default=5.0, help="size of the throughput file")
    parser.add_argument("--presidio-mb", type=float, default=1.0)
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument(
        "--pii-runs",
        type=int,
        default=5,
        help="scans per pattern-lane throughput row (the median is reported)",
    )
    parser.add_argument("--evasion-passages", type=int, default=50)
    parser.add_argument("--reindex", action="store_true")
    parser.add_argument(
        "--all-stdlib", action="store_true", help="govern every standard-library docstring"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--helpers", type=int, default=1, help="scan helper processes (the gateway's: 1)"
    )
    parser.add_argument(
        "--nice", type=int, default=NICE, help="the helpers' niceness (the gateway's: 5)"
    )
    parser.add_argument(
        "--thread",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the gateway's thread takes pieces too (default: with one helper only)",
    )
    parser.add_argument(
        "--only",
        choices=["match", "pii"],
        help="match: only the corpus-match throughput row (no detection or PII rows); "
        "pii: only the throughput rows with the PII scan",
    )
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump(results, handle, indent=2)
    sys.exit(0)


if __name__ == "__main__":
    main()

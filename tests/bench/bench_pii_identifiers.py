"""Which PII findings refuse ordinary identifiers, and whether real ones are still refused.

    uv run python tests/bench/bench_pii_identifiers.py --lines 400

No services needed: the fine-tune scan's pattern lane (``gateway.finetune.pii_scan``, run
in this process) over lines of ``identifier_data.ORDINARY`` and ``PERSONAL`` kinds, judged
with the thresholds of ``policies/data.json`` (``pii_min_scores``, and
``pii_allow_reserved`` and ``pii_allow_role`` for reserved values and role mailboxes),
as the default
``gateway.finetune`` policy judges them. For each kind: the share of lines a finding
would refuse, and by which types. Ordinary kinds should be near 0 %, personal ones 100 %.
Not a test: numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from gateway.finetune.examples import Example
from gateway.finetune.pii_plan import PiiPlan
from gateway.finetune.pii_scan import MAX_LINES, PiiScan
from tests.bench import identifier_data

POLICY_DATA = Path(__file__).resolve().parents[2] / "policies" / "data.json"


def thresholds() -> dict[str, float]:
    config = json.loads(POLICY_DATA.read_text())["gateway"]["config"]["finetune"]
    return {str(k): float(v) for k, v in config["pii_min_scores"].items()}


def allowed(setting: str) -> frozenset[str]:
    """The types whose reserved values or role mailboxes (``pii_allow_reserved``,
    ``pii_allow_role``; ``gateway.finetune.pii_reserved``) do not refuse."""
    config = json.loads(POLICY_DATA.read_text())["gateway"]["config"]["finetune"]
    return frozenset(str(kind) for kind in config.get(setting, []))


async def refusals(lines: list[str], minimum: dict[str, float]) -> tuple[float, Counter[str]]:
    """The share of ``lines`` a finding would refuse, and the refusing types' counts."""
    scan = PiiScan(_no_ner, min(minimum.values()), ner=False)
    plan = PiiPlan(scan=True, types=tuple(sorted(minimum)), ner=False)
    examples = [Example(n + 1, (text,)) for n, text in enumerate(lines)]
    refused: set[int] = set()
    types: Counter[str] = Counter()
    # A finding names its first MAX_LINES lines only: scan that many at a time.
    for start in range(0, len(examples), MAX_LINES):
        for finding in await scan.scan(examples[start : start + MAX_LINES], plan):
            spared = (finding.reserved and finding.type in allowed("pii_allow_reserved")) or (
                finding.role and finding.type in allowed("pii_allow_role")
            )
            if finding.score >= minimum.get(finding.type, 2.0) and not spared:
                refused.update(finding.lines)
                types[finding.type] += finding.count
    return 100 * len(refused) / len(lines), types


async def _no_ner(texts: list[str]) -> list[list[Any]]:
    raise AssertionError("the pattern lane needs no NER")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    minimum = thresholds()
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"thresholds": minimum}
    for part, kinds in (
        ("ordinary", identifier_data.ORDINARY),
        ("personal", identifier_data.PERSONAL),
    ):
        rows: dict[str, Any] = {}
        started = time.process_time()
        for kind, make in kinds.items():
            # Distinct lines only: PiiScan reports a line once however often it repeats.
            lines = [make(rng) for _ in range(args.lines)]
            pct, types = await refusals(lines, minimum)
            rows[kind] = {"refused_pct": round(pct, 2), "types": dict(types)}
        results[part] = rows
        results[f"{part}_mean_refused_pct"] = round(
            sum(r["refused_pct"] for r in rows.values()) / len(rows), 2
        )
        results[f"{part}_cpu_s"] = round(time.process_time() - started, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400, help="lines per kind")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

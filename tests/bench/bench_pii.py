"""PII detection quality and cost on the generated evaluation set (``pii_eval.py``).

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_pii.py                 # lean pipeline, as chat uses
    uv run python tests/bench/bench_pii.py --full --json   # ingest's full spaCy pipeline

The gateway's own analyzer (``gateway.pii.analyzer``) finds spans; the policy the
running OPA holds (``gateway.redaction``) decides what is redacted, exactly as a request
would. Reported:

* recall per type: the value is fully covered by redacted characters under the policy
  for a restricted document (everything personal redacted); for caller messages the
  policy differs only in keeping PERSON.
* look-alike negatives masked: share of look-alike values any character of which is
  redacted, under the caller-message policy and the restricted-document policy.
* ordinary prompts changed: share of everyday prompts changed at all by the caller-
  message policy.
* analysis cost per 100 characters (all samples, batched as the gateway batches), in
  CPU time of this process, and the same for Presidio alone (spaCy NER and Presidio's
  remaining recognizers) in the same run: the difference is the gateway's normalisation
  and recognizers.
* the CPU time to resolve 12,000 overlapping spans in one message (``regions``).
* ordinary identifiers changed: per kind of ``identifier_data.ORDINARY`` (order and
  tracking numbers, hashes, UUIDs, versions, amounts...), the share of lines the
  caller-message policy changes at all (``--identifier-lines`` per kind).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway.pii.analyzer import PresidioAnalyzer
from gateway.redaction.apply import regions
from gateway.redaction.rules import RedactionRules
from tests.bench import identifier_data
from tests.bench.pii_eval import evaluation_set

STRUCTURED = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"]


def policy_rules(opa_url: str, source: dict[str, Any]) -> RedactionRules:
    """The running OPA's ``gateway.redaction.decision`` for an employee without privileges."""
    subject = {"id": "bench", "groups": ["sales"], "attributes": {}}
    response = httpx.post(
        f"{opa_url}/v1/data/gateway/redaction/decision",
        json={"input": {"subject": subject, **source}},
        timeout=10,
    )
    response.raise_for_status()
    return RedactionRules.from_decision(response.json()["result"])


def _redacted(spans: list[Any], rules: RedactionRules, text: str) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in regions(spans, rules, len(text), text)]


def _covered(start: int, end: int, text: str, cover: list[tuple[int, int]]) -> bool:
    return all(text[i].isspace() or any(s <= i < e for s, e in cover) for i in range(start, end))


def _touched(start: int, end: int, cover: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in cover)


def _overlap_ms(rules: RedactionRules) -> float:
    """Median CPU time to resolve 12,000 overlapping spans of mixed types in one message."""
    import random
    import statistics

    rng = random.Random(7)
    types = ["PERSON", "CREDIT_CARD", "EMAIL_ADDRESS", "LOCATION", "US_SSN", "DATE_TIME"]
    spans = []
    for _ in range(12_000):
        start = rng.randrange(0, 59_000)
        spans.append(
            {
                "type": rng.choice(types),
                "start": start,
                "end": start + rng.randint(1, 40),
                "score": 0.8,
            }
        )
    runs = []
    for _ in range(7):
        started = time.process_time()  # CPU time: the shared machine's load distorts wall time
        regions(spans, rules, 60_000)
        runs.append((time.process_time() - started) * 1000)
    return round(statistics.median(runs), 2)


def _ordinary_identifiers_changed(
    analyzer: PresidioAnalyzer, rules: RedactionRules, lines_per_kind: int
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Per ordinary identifier kind: the share of lines the policy changes, and those lines."""
    import random

    rng = random.Random(13)
    shares: dict[str, float] = {}
    changed: dict[str, list[str]] = {}
    for kind, make in identifier_data.ORDINARY.items():
        lines = [make(rng) for _ in range(lines_per_kind)]
        hits = [
            line
            for line, spans in zip(lines, analyzer.analyze(lines), strict=True)
            if _redacted(spans, rules, line)
        ]
        shares[kind] = round(len(hits) / len(lines), 4)
        changed[kind] = hits
    return shares, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="full spaCy pipeline (ingest)")
    parser.add_argument("--per-type", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", type=int, default=0, help="print N misses per type")
    parser.add_argument("--identifier-lines", type=int, default=200, help="lines per kind")
    args = parser.parse_args()
    opa = os.environ.get("GATEWAY_OPA_URL", "http://127.0.0.1:8181")
    message = policy_rules(opa, {"source": "message"})
    document = policy_rules(opa, {"source": "document", "classification": "restricted"})

    samples = evaluation_set(per_type=args.per_type)
    analyzer = PresidioAnalyzer(lean=not args.full)
    analyzer.load()
    texts = [s.text for s in samples]
    analyzer.analyze(texts[:64])  # warm caches
    # CPU time (this process): the shared machine's load distorts wall-clock time.
    started = time.process_time()
    found: list[Any] = []
    for i in range(0, len(texts), 32):
        found += analyzer.analyze(texts[i : i + 32])
    seconds = time.process_time() - started
    chars = sum(map(len, texts))
    # The same texts through Presidio alone (its NER and remaining recognizers), same run.
    started = time.process_time()
    for i in range(0, len(texts), 32):
        list(analyzer._batch.analyze_iterator(texts[i : i + 32], language="en", batch_size=32))
    presidio_seconds = time.process_time() - started
    overlap_ms = _overlap_ms(document)
    identifiers_changed, identifier_hits = _ordinary_identifiers_changed(
        analyzer, message, args.identifier_lines
    )

    recall: dict[str, list[bool]] = defaultdict(list)
    masked: dict[str, dict[str, list[bool]]] = {
        "message": defaultdict(list),
        "document": defaultdict(list),
    }
    changed: list[bool] = []
    changed_document: list[bool] = []
    misses: dict[str, list[str]] = defaultdict(list)
    for sample, spans in zip(samples, found, strict=True):
        if sample.kind == "positive":
            ok = _covered(
                sample.start, sample.end, sample.text, _redacted(spans, document, sample.text)
            )
            recall[sample.type].append(ok)
            if not ok:
                misses[sample.type].append(sample.text)
        elif sample.kind == "lookalike":
            for name, rules in (("message", message), ("document", document)):
                hit = _touched(sample.start, sample.end, _redacted(spans, rules, sample.text))
                masked[name][sample.type].append(hit)
                if hit and name == "document":
                    misses[sample.type].append(sample.text)
        else:
            hit = bool(_redacted(spans, message, sample.text))
            changed.append(hit)
            changed_document.append(bool(_redacted(spans, document, sample.text)))
            if hit:
                misses["ordinary"].append(sample.text)

    def share(values: list[bool]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    report = {
        "pipeline": "full" if args.full else "lean",
        "samples": len(samples),
        "recall": {t: share(v) for t, v in sorted(recall.items())},
        "recall_overall": share([x for v in recall.values() for x in v]),
        "recall_structured_min": min(share(recall[t]) for t in STRUCTURED),
        "lookalikes_masked_message": share([x for v in masked["message"].values() for x in v]),
        "lookalikes_masked_document": share([x for v in masked["document"].values() for x in v]),
        "lookalikes_masked_by_kind_document": {
            k: share(v) for k, v in sorted(masked["document"].items())
        },
        "ordinary_changed": share(changed),
        "ordinary_changed_under_document_policy": share(changed_document),
        "ordinary_prompts": len(changed),
        "us_per_100_chars": round(seconds / chars * 100 * 1e6, 1),
        "us_per_100_chars_presidio_alone": round(presidio_seconds / chars * 100 * 1e6, 1),
        "overlap_resolution_12k_spans_ms": overlap_ms,
        "ordinary_identifiers_changed_mean": round(
            sum(identifiers_changed.values()) / len(identifiers_changed), 4
        ),
        "ordinary_identifiers_changed_by_kind": {
            k: v for k, v in sorted(identifiers_changed.items()) if v
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:36} {value}")
    for kind, hits in sorted(identifier_hits.items()):
        misses[f"identifier/{kind}"] = hits
    for kind, texts_missed in sorted(misses.items()):
        for text in texts_missed[: args.misses]:
            print(f"  miss/hit {kind}: {text!r}")


if __name__ == "__main__":
    main()

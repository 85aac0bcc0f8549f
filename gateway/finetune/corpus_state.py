"""How the governed corpus stands: each ingest run's chunk count and ``_seq_no`` sum.

Any change to the chunks changes some run's state or adds or removes a run (see
``gateway.finetune.corpus_index`` for why), so two equal states mean the same corpus.
The local copy syncs by it, and a stored file's corpus match is reused while the state
it was taken under still holds (``gateway.finetune.recheck``). One small aggregation,
no numpy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.elastic import IndexNotFound, elasticsearch_errors
from gateway.errors import DependencyUnavailable
from gateway.fingerprint_scheme import SCHEME

MAX_RUNS = 10_000
"""More distinct ingest runs than this: no state (the caller must assume a change)."""
NO_RUN = 0
"""The run key of chunks without ``ingested_at`` (written outside the ingest pipeline)."""

RunState = tuple[int, int]
"""A run's chunk count and the sum of its chunks' ``_seq_no``."""


_CURRENT = {"term": {"fingerprint_scheme": SCHEME}}


def fingerprint_filter() -> list[dict[str, Any]]:
    """The chunks a corpus match compares with: fingerprinted under the current scheme."""
    return [{"exists": {"field": "fingerprints"}}, _CURRENT]


class OtherScheme(DependencyUnavailable):
    """Chunks fingerprinted under another scheme cannot be compared: no match holds."""

    def __init__(self, count: int) -> None:
        super().__init__(
            "elasticsearch",
            f"{count} chunk(s) hold fingerprints of an older scheme; re-ingest the corpora "
            "(gateway ingest) before files can be matched against them",
        )


async def run_states(client: AsyncElasticsearch, index: str) -> dict[int, RunState] | None:
    """The state of each ingest run's chunks of the current scheme; None beyond
    ``MAX_RUNS`` runs. OtherScheme (fail closed) while any chunk holds fingerprints of
    another scheme: no state of what cannot be matched."""
    try:
        with elasticsearch_errors(f"fingerprint runs of {index} failed"):
            response = await client.search(
                index=index,
                size=0,
                query={"bool": {"filter": [{"exists": {"field": "fingerprints"}}]}},
                aggs={
                    "other": {"filter": {"bool": {"must_not": [_CURRENT]}}},
                    "current": {
                        "filter": _CURRENT,
                        "aggs": {
                            "runs": {
                                "terms": {
                                    "field": "ingested_at",
                                    "size": MAX_RUNS,
                                    "missing": NO_RUN,
                                },
                                "aggs": {"seq_nos": {"sum": {"field": "_seq_no"}}},
                            }
                        },
                    },
                },
                track_total_hits=False,
            )
    except IndexNotFound:
        return {}
    aggregations = response["aggregations"]
    if others := int(aggregations["other"]["doc_count"]):
        raise OtherScheme(others)
    runs = aggregations["current"]["runs"]
    if runs.get("sum_other_doc_count"):
        return None
    # A sum is a double: past 2**53 it stops matching ours, and the scan searches.
    return {
        int(b["key"]): (int(b["doc_count"]), round(b["seq_nos"]["value"])) for b in runs["buckets"]
    }


def digest(runs: Mapping[int, RunState]) -> str:
    """A short stable name for one state of the corpus (stored with a file's match)."""
    canonical = json.dumps([SCHEME, sorted(runs.items())], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

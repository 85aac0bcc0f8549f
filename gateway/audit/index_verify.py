"""Re-verify every chain from the Elasticsearch audit index alone (``verify --against-index``).

The shipper indexes each record exactly as stored, so the index holds what is needed to
re-compute every chain: documents are read sorted by (``writer``, ``seq``), each one's
hash is re-computed from its ``_source`` (the canonical JSON of everything but ``hash``),
and each link (``prev_hash``, ``seq``), checkpoint seal and, with the key, checkpoint
signature is checked, per writer. Unlike the local verify, every problem is reported (up
to a cap), not only the first: a gap (records never shipped, or deleted from the index)
is named by its seq range and the chain is followed on from the next record. The index
may lag the local log (shipping runs behind the writer), so its chains may end earlier;
that is not an error. Elasticsearch exceptions become DependencyUnavailable (`gateway.elastic`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.audit.chain import GENESIS_HASH, hash_matches, missing_fields
from gateway.audit.checkpoint import CHECKPOINT_KIND, is_signed, signature_valid, signing_key
from gateway.audit.report import Location, Problem, VerifyReport
from gateway.elastic import elasticsearch_errors

MAX_PROBLEMS = 100
_PAGE = 2000
_SORT = [
    {"writer": {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}},
    {"seq": {"order": "asc", "unmapped_type": "long"}},
    {"audit_id": {"order": "asc", "unmapped_type": "keyword"}},
]


async def verify_index(
    client: AsyncElasticsearch, index: str, hmac_key: str | bytes | None = None
) -> list[VerifyReport]:
    """One report per chain (writer) found in ``index``, legacy chain first."""
    key = signing_key(hmac_key)
    reports: list[VerifyReport] = []
    chain: _Chain | None = None
    async for record in _documents(client, index):
        writer = record.get("writer")
        writer = writer if isinstance(writer, str) else None
        if chain is None or writer != chain.report.writer:
            if chain is not None:
                reports.append(chain.finish())
            chain = _Chain(VerifyReport(index, writer), key)
        chain.record(record)
    if chain is not None:
        reports.append(chain.finish())
    return reports


def verify_index_from_env(hmac_key: str | None) -> list[VerifyReport]:
    """``verify_index`` on the cluster and ``<prefix>-audit`` index named by the
    GATEWAY_ELASTICSEARCH_* and GATEWAY_INDEX_PREFIX variables (no other settings)."""
    url = os.environ.get("GATEWAY_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    user = os.environ.get("GATEWAY_ELASTICSEARCH_USERNAME")
    password = os.environ.get("GATEWAY_ELASTICSEARCH_PASSWORD")
    ca_certs = os.environ.get("GATEWAY_ELASTICSEARCH_CA_CERTS")
    index = f"{os.environ.get('GATEWAY_INDEX_PREFIX', 'gateway')}-audit"

    async def run() -> list[VerifyReport]:
        tls: dict[str, Any] = {"ca_certs": ca_certs} if ca_certs else {}
        client = AsyncElasticsearch(
            hosts=[url],
            basic_auth=(user, password) if user and password else None,
            request_timeout=60,
            **tls,
        )
        try:
            return await verify_index(client, index, hmac_key)
        finally:
            await client.close()

    return asyncio.run(run())


async def _documents(client: AsyncElasticsearch, index: str) -> AsyncIterator[dict[str, Any]]:
    after: list[Any] | None = None
    while True:
        with elasticsearch_errors(f"cannot read {index}"):
            page = await client.search(
                index=index,
                size=_PAGE,
                sort=_SORT,
                search_after=after,
                query={"match_all": {}},
                track_total_hits=False,
            )
        hits = page["hits"]["hits"]
        for hit in hits:
            yield dict(hit["_source"])
        if len(hits) < _PAGE:
            return
        after = hits[-1]["sort"]


@dataclass
class _Chain:
    report: VerifyReport
    key: bytes | None
    last_hash: str = GENESIS_HASH
    last_seq: int = 0
    last_checkpoint: int = 0
    signed: bool = False
    last_kind: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def record(self, record: dict[str, Any]) -> None:
        seq = record.get("seq")
        where = Location(None, None, seq if isinstance(seq, int) else None, record.get("audit_id"))
        missing = missing_fields(record)
        if missing or not isinstance(seq, int):
            self._error("not_a_record", f"missing {', '.join(missing) or 'seq'}", where)
            return
        if not hash_matches(record):
            self._error("hash_mismatch", "content does not match its hash (edited)", where)
        if seq <= self.last_seq:
            self._error("duplicate_seq", f"a second record with seq {seq}", where)
            return
        if seq > self.last_seq + 1:
            self._error(
                "gap",
                f"seq {self.last_seq + 1}..{seq - 1} are missing from the index "
                "(not shipped, rejected, or deleted)",
                where,
            )
        elif record["prev_hash"] != self.last_hash:
            self._error(
                "broken_link",
                f"follows {str(record['prev_hash'])[:12]}..., not the hash of seq "
                f"{self.last_seq} ({self.last_hash[:12]}...)",
                where,
            )
        if record.get("kind") == CHECKPOINT_KIND:
            self._checkpoint(record, seq, where)
        self.report.records += 1
        self.last_seq, self.last_hash = seq, str(record["hash"])
        self.last_kind = str(record.get("kind"))

    def _checkpoint(self, record: dict[str, Any], seq: int, where: Location) -> None:
        if record.get("covers_seq") != seq - 1 or (
            seq - 1 == self.last_seq and record.get("covers_hash") != self.last_hash
        ):
            self._error("bad_checkpoint", "does not seal the record before it", where)
        if is_signed(record):
            self.signed = True
            if self.key is not None and not signature_valid(self.key, record):
                self._error("bad_signature", "checkpoint signature is invalid", where)
        elif self.key is not None and self.signed:
            self._error("unsigned_checkpoint", "an unsigned checkpoint after signed ones", where)
        self.report.checkpoints += 1
        self.last_checkpoint = seq

    def _error(self, code: str, message: str, where: Location) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem("error", code, message, where))

    def finish(self) -> VerifyReport:
        report = self.report
        report.last_seq, report.last_hash = self.last_seq, self.last_hash
        report.sealed = self.last_kind == CHECKPOINT_KIND
        report.signatures = (
            "none"
            if not report.checkpoints
            else ("valid" if self.key else "unchecked")
            if self.signed
            else "unsigned"
        )
        report.problems = list(self.problems)
        if self.key is not None and report.checkpoints and not self.signed:
            report.problems.append(
                Problem("error", "unsigned", "a key was given but no checkpoint is signed")
            )
        if not report.sealed and report.records:
            report.problems.append(
                Problem(
                    "warning",
                    "unsealed_tail",
                    f"records after seq {self.last_checkpoint} follow the last checkpoint in "
                    "the index (normal while the log is written and shipped)",
                )
            )
        return report

"""The ingest run: files -> documents -> governance -> chunks -> PII spans (gateway.pii) -> index.

Per document: unchanged (same version, all chunks stored) is skipped without Presidio;
changed gets its new chunks indexed, then the old version's chunks deleted; with
``prune``, documents of the corpus absent from the input are deleted, but only after a
run without problems (an unreadable file must not look like a deleted one).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from gateway.elastic import ChunkIndex, timestamp
from gateway.ingest.chunking import Chunker, TextChunk
from gateway.ingest.documents import DocumentError, Problem, RawDocument
from gateway.ingest.governance import DocumentMeta, Governance
from gateway.ingest.manifest import Manifest
from gateway.ingest.readers import read_file
from gateway.ingest.records import chunk_records, content_hash, document_version
from gateway.ingest.sources import discover
from gateway.ingest.store import ChunkStore, StoredDocument
from gateway.pii.analyzer import PiiSpan, SpanAnalyzer


@dataclass(frozen=True, slots=True)
class IngestOptions:
    corpus: str
    """Corpus every document of this run belongs to (and the scope of ``prune``)."""
    manifest: Manifest = field(default_factory=Manifest)
    """Governance defaults and per-file overrides."""
    prune: bool = False
    """Delete documents of the corpus that are not in this run's input."""
    chunk_tokens: int = 400
    """Largest chunk, in o200k_base tokens."""
    overlap: int = 50
    """Tokens shared by consecutive chunks."""
    exclude: tuple[Path, ...] = ()
    """Paths never ingested as documents (the manifest, when it sits among them)."""
    batch_chunks: int = 256
    """Chunks analysed by Presidio and bulk-indexed together."""


class ProgressSink(Protocol):
    def start(self, total_files: int) -> None: ...

    def advance(self) -> None: ...


@dataclass(slots=True)
class PresidioStats:
    load_seconds: float = 0.0
    seconds: float = 0.0
    """Analysis time, load excluded."""
    chars: int = 0
    chunks: int = 0

    @property
    def chars_per_second(self) -> float | None:
        return self.chars / self.seconds if self.seconds > 0 else None


@dataclass(slots=True)
class IngestReport:
    corpus: str
    index: str
    files_seen: int = 0
    indexed: int = 0
    """New documents."""
    replaced: int = 0
    """Documents whose stored version was replaced."""
    skipped: int = 0
    """Unchanged documents (no indexing, no Presidio)."""
    pruned: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    chars_indexed: int = 0
    """Characters of the indexed and replaced documents."""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    prune: str = "off"
    presidio: PresidioStats = field(default_factory=PresidioStats)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def files_with_errors(self) -> int:
        return len({problem.file for problem in self.problems})

    def to_dict(self) -> dict[str, Any]:
        presidio = self.presidio
        return {
            "corpus": self.corpus,
            "index": self.index,
            "ok": self.ok,
            "files": {"seen": self.files_seen, "with_errors": self.files_with_errors},
            "documents": {
                "indexed": self.indexed,
                "replaced": self.replaced,
                "skipped": self.skipped,
                "pruned": self.pruned,
            },
            "chunks": {"written": self.chunks_written, "deleted": self.chunks_deleted},
            "chars_indexed": self.chars_indexed,
            "prune": self.prune,
            "errors": [
                {"file": p.file, "line": p.line, "doc_id": p.doc_id, "error": p.message}
                for p in self.problems
            ],
            "warnings": list(self.warnings),
            "presidio": {
                "load_seconds": round(presidio.load_seconds, 3),
                "seconds": round(presidio.seconds, 3),
                "chars": presidio.chars,
                "chunks": presidio.chunks,
                "chars_per_second": (
                    round(presidio.chars_per_second) if presidio.chars_per_second else None
                ),
            },
            "seconds": round(self.seconds, 3),
        }


async def run_ingest(
    paths: Sequence[Path],
    options: IngestOptions,
    *,
    index: ChunkIndex,
    analyzer: SpanAnalyzer,
    progress: ProgressSink | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``index``; DependencyUnavailable if Elasticsearch fails."""
    run = _Run(options, index, analyzer, progress)
    return await run.run(paths)


@dataclass(slots=True)
class _Planned:
    meta: DocumentMeta
    version: str
    text_hash: str
    chunks: list[TextChunk]
    chars: int
    outcome: Literal["indexed", "replaced"]
    created_at: str | None


class _Run:
    def __init__(
        self,
        options: IngestOptions,
        index: ChunkIndex,
        analyzer: SpanAnalyzer,
        progress: ProgressSink | None,
    ) -> None:
        self.options = options
        self.index = index
        self.store = ChunkStore(index)
        self.analyzer = analyzer
        self.progress = progress
        self.chunker = Chunker(options.chunk_tokens, options.overlap)
        self.governance = Governance(options.manifest, index.schema)
        self.report = IngestReport(corpus=options.corpus, index=index.name)
        self.stored: dict[str, StoredDocument] = {}
        self.seen: dict[str, str] = {}  # doc_id -> where it was found
        self.pending: list[_Planned] = []
        self.analyzer_loaded = False
        self.started = timestamp(datetime.now(UTC))

    async def run(self, paths: Sequence[Path]) -> IngestReport:
        clock = time.perf_counter()
        files = discover(paths, exclude=self.options.exclude)
        self.report.files_seen = len(files)
        if self.progress is not None:
            self.progress.start(len(files))
        await self.index.ensure_index()
        self.stored = await self.store.documents(self.options.corpus)
        for source in files:
            documents, problems = read_file(source)
            self.report.problems.extend(problems)
            for document in documents:
                self._plan(document)
            if sum(len(p.chunks) for p in self.pending) >= self.options.batch_chunks:
                await self._flush()
            if self.progress is not None:
                self.progress.advance()
        await self._flush()
        await self._prune()
        await self.store.refresh()
        self.report.warnings.extend(
            f"manifest rule matched no file: {pattern!r}"
            for pattern in self.governance.unused_rules()
        )
        self.report.seconds = time.perf_counter() - clock
        return self.report

    def _plan(self, document: RawDocument) -> None:
        where = document.source.rel
        try:
            meta = self.governance.resolve(document)
        except DocumentError as exc:
            self.report.problems.append(Problem(where, str(exc), line=document.line))
            return
        if meta.doc_id in self.seen:
            self.report.problems.append(
                Problem(
                    where,
                    f"doc_id already used by {self.seen[meta.doc_id]}",
                    line=document.line,
                    doc_id=meta.doc_id,
                )
            )
            return
        self.seen[meta.doc_id] = where if document.line is None else f"{where}:{document.line}"
        chunks = self.chunker.chunk(document.text)
        text_hash = content_hash(document.text)
        version = document_version(self.options.corpus, meta, text_hash, self.chunker.signature)
        stored = self.stored.get(meta.doc_id)
        if stored is not None and stored.versions == {version: len(chunks)}:
            self.report.skipped += 1
            return
        self.pending.append(
            _Planned(
                meta=meta,
                version=version,
                text_hash=text_hash,
                chunks=chunks,
                chars=len(document.text),
                outcome="indexed" if stored is None else "replaced",
                created_at=stored.created_at if stored is not None else None,
            )
        )

    async def _flush(self) -> None:
        if not self.pending:
            return
        texts = [chunk.text for planned in self.pending for chunk in planned.chunks]
        spans = iter(self._analyze(texts))
        records: list[dict[str, Any]] = []
        for planned in self.pending:
            records.extend(
                chunk_records(
                    corpus=self.options.corpus,
                    meta=planned.meta,
                    version=planned.version,
                    text_hash=planned.text_hash,
                    chunks=planned.chunks,
                    spans=[next(spans) for _ in planned.chunks],
                    created_at=planned.created_at or self.started,
                    updated_at=self.started,
                    ingested_at=self.started,
                )
            )
        self.report.chunks_written += await self.index.index_chunks(records, refresh=False)
        replaced = {p.meta.doc_id: p.version for p in self.pending if p.outcome == "replaced"}
        self.report.chunks_deleted += await self.store.delete_other_versions(
            self.options.corpus, replaced
        )
        for planned in self.pending:
            if planned.outcome == "indexed":
                self.report.indexed += 1
            else:
                self.report.replaced += 1
            self.report.chars_indexed += planned.chars
        self.pending.clear()

    def _analyze(self, texts: list[str]) -> list[list[PiiSpan]]:
        stats = self.report.presidio
        if not self.analyzer_loaded:
            clock = time.perf_counter()
            self.analyzer.load()
            stats.load_seconds = time.perf_counter() - clock
            self.analyzer_loaded = True
        clock = time.perf_counter()
        spans = self.analyzer.analyze(texts)
        stats.seconds += time.perf_counter() - clock
        stats.chars += sum(len(text) for text in texts)
        stats.chunks += len(texts)
        return spans

    async def _prune(self) -> None:
        if not self.options.prune:
            return
        if self.report.problems:
            self.report.prune = "skipped: some input could not be ingested"
            return
        if not self.seen:
            self.report.prune = "skipped: no documents in the input"
            return
        gone = set(self.stored) - set(self.seen)
        self.report.chunks_deleted += await self.store.delete_documents(self.options.corpus, gone)
        self.report.pruned = len(gone)
        self.report.prune = "done"

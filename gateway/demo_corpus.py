"""Load the demo corpus (deploy/local/demo/corpus) into the chunk index.

A deliberately small loader for the quickstart: one chunk per paragraph, governance
fields from ``manifest.yaml``. The governed ingest pipeline (formats, token-aware
chunking, Presidio spans, re-ingest) is ``gateway ingest``'s job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

GOVERNANCE_FIELDS = (
    "classification",
    "owner",
    "allowed_groups",
    "allowed_users",
    "tenant",
    "labels",
)


class DemoDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    doc_id: str
    title: str
    classification: str | None = None
    owner: str | None = None
    allowed_groups: list[str] | None = None
    allowed_users: list[str] | None = None
    tenant: str | None = None
    labels: list[str] | None = None


class DemoManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpus: str
    defaults: dict[str, Any] = Field(default_factory=dict)
    documents: list[DemoDocument]


def demo_chunks(corpus_dir: Path) -> Iterator[dict[str, Any]]:
    manifest = DemoManifest.model_validate(
        yaml.safe_load((corpus_dir / "manifest.yaml").read_text(encoding="utf-8"))
    )
    now = datetime.now(UTC).isoformat()
    for doc in manifest.documents:
        text = (corpus_dir / doc.file).read_text(encoding="utf-8")
        version = hashlib.sha256(text.encode()).hexdigest()[:16]
        governance = {
            name: getattr(doc, name)
            if getattr(doc, name) is not None
            else manifest.defaults.get(name)
            for name in GOVERNANCE_FIELDS
        }
        offset = 0
        for index, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
            start = text.index(paragraph, offset)
            offset = start + len(paragraph)
            yield {
                "chunk_id": f"{doc.doc_id}:{version}:{index}",
                "doc_id": doc.doc_id,
                "doc_version": version,
                "chunk_index": index,
                "corpus": manifest.corpus,
                "title": doc.title,
                "source_uri": f"demo://{manifest.corpus}/{doc.file}",
                **{k: v for k, v in governance.items() if v is not None},
                "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                "chunk_sha256": hashlib.sha256(paragraph.strip().encode()).hexdigest(),
                "text": paragraph.strip(),
                "start": start,
                "end": offset,
                "pii": [],
                "ingested_at": now,
            }

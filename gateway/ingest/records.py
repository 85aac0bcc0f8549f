"""The chunk documents written to Elasticsearch; exactly the fields of ``chunk_mapping()``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.elastic import timestamp
from gateway.fingerprint_scheme import SCHEME as FINGERPRINT_SCHEME
from gateway.hashing import sha256_hex
from gateway.ingest.chunking import TextChunk
from gateway.ingest.governance import DocumentMeta
from gateway.pii.analyzer import PiiSpan

PIPELINE_VERSION = 1
"""Bump when extraction, chunking or PII analysis change what a document becomes."""


def content_hash(text: str) -> str:
    return sha256_hex(text)


def document_version(corpus: str, meta: DocumentMeta, text_hash: str, chunking: str) -> str:
    """Changes when the text, any governance field or the chunking changes.

    A governance-only edit (narrower ``allowed_groups``) must replace the stored chunks
    too, and so must a new chunk size or fingerprint scheme (chunks stored without
    fingerprints are rewritten by the next ingest); the derived timestamps are not part
    of it, so re-ingesting an unchanged document is a no-op.
    """
    payload = {
        "pipeline": PIPELINE_VERSION,
        "corpus": corpus,
        "content_hash": text_hash,
        "chunking": chunking,
        "fingerprints": FINGERPRINT_SCHEME,
        "meta": {
            "doc_id": meta.doc_id,
            "title": meta.title,
            "source_uri": meta.source_uri,
            "classification": meta.classification,
            "owner": meta.owner,
            "allowed_groups": list(meta.allowed_groups),
            "allowed_users": list(meta.allowed_users),
            "tenant": meta.tenant,
            "labels": list(meta.labels),
            "created_at": _iso(meta.created_at),
            "updated_at": _iso(meta.updated_at),
            "custom": stored_custom(meta),
        },
    }
    # Not hashing.canonical_json: versions are stored in the index, and another form would
    # make every unchanged document look changed (a full re-ingest).
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return sha256_hex(encoded)[:16]


def chunk_records(
    *,
    corpus: str,
    meta: DocumentMeta,
    version: str,
    text_hash: str,
    chunks: Sequence[TextChunk],
    spans: Sequence[Sequence[PiiSpan]],
    created_at: str,
    updated_at: str,
    ingested_at: str,
) -> list[dict[str, Any]]:
    """One record per chunk; governance is copied onto every chunk (filters need it)."""
    from gateway.fingerprint import fingerprints  # numpy: loaded when ingest runs

    shared: dict[str, Any] = {
        "doc_id": meta.doc_id,
        "doc_version": version,
        "corpus": corpus,
        "title": meta.title,
        "source_uri": meta.source_uri,
        "classification": meta.classification,
        "allowed_groups": list(meta.allowed_groups),
        "allowed_users": list(meta.allowed_users),
        "labels": list(meta.labels),
        "content_hash": text_hash,
        "created_at": _iso(meta.created_at) or created_at,
        "updated_at": _iso(meta.updated_at) or updated_at,
        "ingested_at": ingested_at,
    }
    shared.update(stored_custom(meta))
    if meta.owner is not None:
        shared["owner"] = meta.owner
    if meta.tenant is not None:
        shared["tenant"] = meta.tenant
    return [
        {
            **shared,
            "chunk_id": f"{meta.doc_id}:{version}:{chunk.index}",
            "chunk_index": chunk.index,
            "chunk_sha256": chunk.sha256,
            "text": chunk.text,
            "start": chunk.start,
            "end": chunk.end,
            "token_count": chunk.token_count,
            "pii": [dict(span) for span in chunk_spans],
            "fingerprints": fingerprints(chunk.text),
            "fingerprint_scheme": FINGERPRINT_SCHEME,
        }
        for chunk, chunk_spans in zip(chunks, spans, strict=True)
    ]


def stored_custom(meta: DocumentMeta) -> dict[str, Any]:
    """The schema's custom fields as stored and shown to policies (dates canonical UTC)."""
    return {
        name: timestamp(value) if isinstance(value, datetime) else value
        for name, value in sorted(meta.custom.items())
    }


def _iso(value: datetime | None) -> str | None:
    return timestamp(value) if value is not None else None

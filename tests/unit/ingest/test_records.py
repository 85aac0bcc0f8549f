import dataclasses

from gateway.elastic import chunk_mapping
from gateway.ingest.chunking import Chunker
from gateway.ingest.governance import DocumentMeta
from gateway.ingest.records import chunk_records, content_hash, document_version
from gateway.pii.analyzer import PiiSpan

META = DocumentMeta(
    doc_id="handbook/a.md",
    title="A",
    source_uri="https://wiki.example.com/a.md",
    classification="internal",
    owner="people-team",
    allowed_groups=("employees",),
    tenant="acme",
)
TEXT = "Dana Whitfield approves leave. " * 40


def version(
    meta: DocumentMeta = META, text: str = TEXT, chunking: str = "o200k_base/400/50"
) -> str:
    return document_version("acme", meta, content_hash(text), chunking)


def test_records_carry_exactly_the_mapped_fields() -> None:
    """Every chunk record uses only fields of the strict mapping, and all of them."""
    chunks = Chunker(chunk_tokens=64, overlap=8).chunk(TEXT)
    spans: list[list[PiiSpan]] = [
        [PiiSpan(type="PERSON", start=0, end=14, score=0.85)] for _ in chunks
    ]
    records = chunk_records(
        corpus="acme",
        meta=META,
        version=version(),
        text_hash=content_hash(TEXT),
        chunks=chunks,
        spans=spans,
        created_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-02T00:00:00+00:00",
        ingested_at="2026-01-02T00:00:00+00:00",
    )
    mapped = set(chunk_mapping()["properties"])
    assert len(records) == len(chunks) > 1
    for record, chunk in zip(records, chunks, strict=True):
        assert set(record) == mapped
        assert record["chunk_id"] == f"handbook/a.md:{version()}:{chunk.index}"
        assert TEXT[record["start"] : record["end"]] == record["text"]
        assert record["pii"] == [{"type": "PERSON", "start": 0, "end": 14, "score": 0.85}]
        assert record["allowed_groups"] == ["employees"]


def test_version_is_stable_for_the_same_input() -> None:
    """The same text, governance and chunking give the same version (re-ingest skips)."""
    assert version() == version(dataclasses.replace(META))


def test_version_changes_with_text_governance_or_chunking() -> None:
    """Text, any governance field and the chunk settings each change the version."""
    others = {
        version(text=TEXT + "!"),
        version(dataclasses.replace(META, allowed_groups=("security",))),
        version(dataclasses.replace(META, classification="restricted")),
        version(dataclasses.replace(META, title="B")),
        version(chunking="o200k_base/200/50"),
    }
    assert version() not in others
    assert len(others) == 5

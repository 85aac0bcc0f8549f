from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.elastic import chunk_mapping
from gateway.governance_schema import (
    BUILTIN_SCHEMA,
    SchemaError,
    load_schema,
    parse_schema,
)
from gateway.ingest.chunking import Chunker
from gateway.ingest.documents import DocumentError, RawDocument, SourceFile
from gateway.ingest.governance import Governance
from gateway.ingest.manifest import Manifest, ManifestError, load_manifest
from gateway.ingest.records import chunk_records, content_hash, document_version
from gateway.retrieval.retriever import policy_view
from gateway.retrieval.translator import FilterTranslator

SCHEMA_FILE = Path(__file__).parents[1] / "fixtures" / "governance" / "schema.yaml"
SCHEMA = load_schema(SCHEMA_FILE)


def line(**record: Any) -> RawDocument:
    source = SourceFile(path=Path("/data/x.jsonl"), rel="x.jsonl")
    return RawDocument(source=source, text="text", line=1, record={"doc_id": "d", **record})


def resolve(**record: Any) -> Any:
    manifest = Manifest.model_validate(
        {"defaults": {"classification": "internal"}}, context={"schema": SCHEMA}
    )
    return Governance(manifest, SCHEMA).resolve(line(**record))


def test_schema_file_declares_every_type() -> None:
    """The fixture schema loads with one field of each type."""
    assert {name: spec.type for name, spec in SCHEMA.custom.items()} == {
        "department": "keyword",
        "region": "keyword",
        "denied_users": "keyword_list",
        "projects": "keyword_list",
        "embargo_until": "date",
        "retention_years": "integer",
        "legal_hold": "boolean",
    }
    assert load_schema(None) is BUILTIN_SCHEMA


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"fields": {"tenant": "keyword"}}, "taken by a built-in field"),
        ({"fields": {"Dept": "keyword"}}, "fields.Dept"),
        ({"fields": {"x": "float"}}, "fields.x"),
        ({"fields": {"x": {"type": "date", "values": ["a"]}}}, "keyword fields only"),
        ({"classification": ["Public", "public"]}, "letter case"),
        ({"classification": []}, "classification"),
        ({"colour": 1}, "colour"),
        ([1], "expected a mapping"),
    ],
)
def test_bad_schema_is_a_clear_error(data: Any, problem: str) -> None:
    """A wrong schema names the entry at fault."""
    with pytest.raises(SchemaError, match=problem):
        parse_schema(data)


def test_custom_fields_are_validated_and_normalised() -> None:
    """Declared fields are typed; enums and classification take the schema's spelling."""
    meta = resolve(
        classification="Confidential",
        department="legal",
        region="eu",
        denied_users=["mallory", "mallory", "trent"],
        embargo_until="2026-06-01",
        retention_years=7,
        legal_hold=True,
    )
    assert meta.classification == "confidential"
    assert meta.custom == {
        "department": "legal",
        "region": "EU",
        "denied_users": ["mallory", "trent"],
        "embargo_until": datetime(2026, 6, 1, tzinfo=UTC),
        "retention_years": 7,
        "legal_hold": True,
    }


def test_wrong_custom_values_are_per_document_errors() -> None:
    """Each wrong field is named in the document's error, never its value."""
    with pytest.raises(DocumentError) as info:
        resolve(
            region="mars",
            retention_years="7",
            legal_hold="yes",
            embargo_until="soon",
            denied_users="mallory",
            clearance_level=3,
        )
    message = str(info.value)
    for expected in (
        "region: must be one of EU, US, APAC",
        "retention_years: Input should be a valid integer",
        "legal_hold: Input should be a valid boolean",
        "embargo_until: Input should be a valid datetime",
        "denied_users: Input should be a valid list",
        "clearance_level: unknown field",
    ):
        assert expected in message
    assert "mars" not in message
    assert "soon" not in message


def test_manifest_fields_are_checked_against_the_schema(tmp_path: Path) -> None:
    """Manifest defaults and rules use schema fields; undeclared ones are config errors."""
    path = tmp_path / "m.yaml"
    path.write_text("defaults: {classification: public, legal_hold: true}\n", encoding="utf-8")
    assert load_manifest(path, SCHEMA).defaults.explicit()["legal_hold"] is True
    with pytest.raises(ManifestError, match="legal_hold: unknown field"):
        load_manifest(path)


def test_names_keep_no_surrounding_spaces() -> None:
    """Group and user names must match the keys file exactly: padding is an error."""
    with pytest.raises(DocumentError, match="leading or trailing spaces"):
        resolve(allowed_groups=["sales "])
    with pytest.raises(DocumentError, match="leading or trailing spaces"):
        resolve(denied_users=[" mallory"])


def test_custom_fields_reach_records_version_mapping_and_policy_view() -> None:
    """Stored on every chunk (dates canonical), part of the version, mapped, shown to OPA."""
    meta = resolve(embargo_until="2026-06-01T10:00:00+02:00", projects=["apollo"])
    other = resolve(embargo_until="2026-06-02", projects=["apollo"])
    text = "one two three " * 20
    chunks = Chunker(chunk_tokens=16, overlap=2).chunk(text)
    records = chunk_records(
        corpus="c",
        meta=meta,
        version="v",
        text_hash=content_hash(text),
        chunks=chunks,
        spans=[[] for _ in chunks],
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        ingested_at="2026-01-01T00:00:00.000Z",
    )
    assert records[0]["embargo_until"] == "2026-06-01T08:00:00.000Z"
    assert records[0]["projects"] == ["apollo"]
    properties = chunk_mapping(schema=SCHEMA)["properties"]
    assert set(records[0]) <= set(properties)
    assert properties["retention_years"] == {"type": "long"}
    assert document_version("c", meta, "h", "k") != document_version("c", other, "h", "k")
    view = policy_view(records[0], SCHEMA)
    assert view["embargo_until"] == "2026-06-01T08:00:00.000Z"
    assert view["denied_users"] == []
    assert view["allowed_users"] == []
    assert "text" not in view
    assert view["created_at"] == "2026-01-01T00:00:00.000Z"


def test_translator_knows_the_schema_fields() -> None:
    """Schema fields are filterable with their types; undeclared ones are refused."""
    translator = FilterTranslator(SCHEMA.field_types())
    node = {
        "type": "compound",
        "operator": "not",
        "value": [
            {"type": "field", "field": "document.denied_users", "operator": "eq", "value": "eve"}
        ],
    }
    assert translator.translate_node(node) == {
        "bool": {"must_not": [{"term": {"denied_users": "eve"}}]}
    }

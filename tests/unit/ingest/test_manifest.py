from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.ingest.documents import DocumentError, RawDocument, SourceFile
from gateway.ingest.governance import Governance
from gateway.ingest.manifest import Manifest, ManifestError, check_corpus, load_manifest
from tests.fixtures.ingest.support import MANIFEST


def doc(rel: str, *, line: int | None = None, **record: Any) -> RawDocument:
    return RawDocument(
        source=SourceFile(path=Path("/data") / rel, rel=rel), text="text", line=line, record=record
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fixture_manifest_loads() -> None:
    """The test corpus manifest is valid and keeps its rules in order."""
    manifest = load_manifest(MANIFEST)
    assert manifest.corpus == "acme-test"
    assert [rule.match for rule in manifest.files] == ["security/*", "handbook/vacation.md"]


def test_defaults_then_rules_in_order_then_jsonl_line() -> None:
    """Defaults < matching file rules (later wins) < the JSONL line's own fields."""
    manifest = Manifest.model_validate(
        {
            "defaults": {"classification": "internal", "tenant": "acme", "labels": ["hr"]},
            "files": [
                {"match": "*.jsonl", "classification": "confidential", "owner": "sales"},
                {"match": "crm/*", "owner": "crm-team"},
            ],
        }
    )
    meta = Governance(manifest).resolve(
        doc("crm/leads.jsonl", line=3, doc_id="lead-7", allowed_users=["carol"])
    )
    assert meta.doc_id == "lead-7"
    assert meta.classification == "confidential"
    assert meta.owner == "crm-team"
    assert (meta.tenant, meta.labels, meta.allowed_users) == ("acme", ("hr",), ("carol",))
    assert meta.title == "lead-7"
    assert meta.source_uri == "file:///data/crm/leads.jsonl#lead-7"


def test_file_rule_sets_doc_id_title_and_empty_lists_override() -> None:
    """A rule may name the doc_id, and an explicit empty list replaces the default."""
    manifest = Manifest.model_validate(
        {
            "defaults": {"classification": "public", "allowed_groups": ["everyone"]},
            "source_uri_base": "https://wiki.example.com/",
            "files": [{"match": "a b.md", "doc_id": "doc-a", "allowed_groups": []}],
        }
    )
    meta = Governance(manifest).resolve(doc("a b.md"))
    assert (meta.doc_id, meta.allowed_groups) == ("doc-a", ())
    assert meta.source_uri == "https://wiki.example.com/a%20b.md"
    assert meta.title == "a b"


def test_document_without_classification_is_refused() -> None:
    """No classification anywhere: the document is refused, not indexed with a guess."""
    with pytest.raises(DocumentError, match="no classification"):
        Governance(Manifest()).resolve(doc("notes.txt"))


def test_bad_jsonl_fields_are_named_without_values() -> None:
    """A JSONL line with a wrong or unknown field names the field, never the value."""
    manifest = Manifest.model_validate({"defaults": {"classification": "internal"}})
    with pytest.raises(DocumentError) as info:
        Governance(manifest).resolve(
            doc("x.jsonl", line=1, doc_id="d", classification="top-secret-x", ssn="123-45-6789")
        )
    message = str(info.value)
    assert "classification: must be one of public, internal" in message
    assert "ssn: unknown field" in message
    assert "top-secret-x" not in message
    assert "123-45-6789" not in message


def test_jsonl_line_needs_a_doc_id() -> None:
    """JSONL documents must carry their own doc_id (line numbers are not stable ids)."""
    manifest = Manifest.model_validate({"defaults": {"classification": "internal"}})
    with pytest.raises(DocumentError, match="doc_id: Field required"):
        Governance(manifest).resolve(doc("x.jsonl", line=1))


def test_timestamps_accept_dates_and_become_utc() -> None:
    """Dates become midnight UTC; naive timestamps are read as UTC."""
    manifest = Manifest.model_validate(
        {
            "defaults": {
                "classification": "internal",
                "created_at": "2026-01-31",
                "updated_at": "2026-02-01T10:00:00",
            }
        }
    )
    meta = Governance(manifest).resolve(doc("a.txt"))
    assert meta.created_at == datetime(2026, 1, 31, tzinfo=UTC)
    assert meta.updated_at == datetime(2026, 2, 1, 10, tzinfo=UTC)


def test_unused_rules_are_reported() -> None:
    """A rule that matched no file is listed (a likely typo)."""
    manifest = Manifest.model_validate(
        {"files": [{"match": "a.txt", "owner": "x"}, {"match": "typo/*", "owner": "y"}]}
    )
    governance = Governance(manifest)
    with pytest.raises(DocumentError):
        governance.resolve(doc("a.txt"))
    assert governance.unused_rules() == ["typo/*"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "corpus: x\ndefaults: {classification: secret}\n",
            "defaults: classification: must be one of",
        ),
        ("files:\n  - match: a.md\n    colour: red\n", "files[0]: colour: unknown field"),
        ("defaults: {allowed_groups: [' sales']}\n", "leading or trailing spaces"),
        ("files:\n  - match: '*.md'\n    doc_id: one\n", "files[0]: doc_id names one document"),
        ("defaults: {allowed_groups: sales}\n", "defaults.allowed_groups: Input should be"),
        ("corpus: 'has spaces'\n", "corpus: String should match pattern"),
        ("- just\n- a list\n", "expected a mapping"),
        ("defaults: [unclosed\n", "not valid YAML (line 2)"),
    ],
)
def test_invalid_manifest_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    """Each manifest problem is reported with the file and the field's location."""
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_corpus_flag_must_agree_with_the_manifest() -> None:
    """--corpus must be a valid name and equal the manifest's corpus when it has one."""
    check_corpus("acme-test", Manifest(corpus="acme-test"))
    with pytest.raises(ManifestError, match="differs"):
        check_corpus("other", Manifest(corpus="acme-test"))
    with pytest.raises(ManifestError, match="--corpus"):
        check_corpus("bad name!", Manifest())


def test_overlong_path_needs_an_explicit_doc_id() -> None:
    """A path too long to be a doc_id is refused with a hint to set doc_id."""
    manifest = Manifest.model_validate({"defaults": {"classification": "internal"}})
    with pytest.raises(DocumentError, match="set doc_id"):
        Governance(manifest).resolve(doc("deep/" * 60 + "file.txt"))

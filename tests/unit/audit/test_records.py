"""The typed audit records: the ES mapping and the docs page derive from them."""

from __future__ import annotations

from typing import Annotated, TypedDict

import pytest

from gateway.audit import records
from gateway.audit.records import (
    RECORD_KINDS,
    describe,
    payload_mapping,
    render_docs,
    undeclared,
)
from gateway.audit.shipper import audit_mapping
from tests.conftest import REPO

DOCS = REPO / "docs" / "audit-records.md"
KEYWORD = {"type": "keyword"}
# The payload mapping as it was listed by hand before the types existed: review queries
# and dashboards rely on these, so a type change must not drop or retype one.
REVIEWED = {
    **{
        name: KEYWORD
        for name in (
            "request_id",
            "endpoint",
            "subject",
            "groups",
            "key_id",
            "client_address",
            "model",
            "policy_decision_ids",
            "policy_revision",
            "upstream_body_sha256",
            "request_audit_id",
            "finish_reason",
        )
    },
    "user_agent": {"type": "keyword", "ignore_above": 512},
    "stream": {"type": "boolean"},
    "allowed": {"type": "boolean"},
    "policy_decision_cached": {"type": "boolean"},
    "stream_completed": {"type": "boolean"},
    "denial_reasons": {"type": "text"},
    "status": {"type": "integer"},
    "upstream_latency_ms": {"type": "float"},
    "chunks": {
        "properties": {
            name: KEYWORD
            for name in (
                "doc_id",
                "doc_version",
                "chunk_id",
                "corpus",
                "classification",
                "sha256_injected",
                "sha256_original",
            )
        }
    },
}


def test_docs_page_matches_the_types() -> None:
    """docs/audit-records.md is exactly what the types generate (regenerate it with
    ``uv run python -m gateway.audit.records > docs/audit-records.md``)."""
    assert DOCS.read_text() == render_docs()


def test_reviewed_fields_keep_their_mapping() -> None:
    """Every field review queries used keeps its index type."""
    mapping = payload_mapping()
    for name, expected in REVIEWED.items():
        assert mapping[name] == expected, name


def test_shipper_uses_the_derived_mapping() -> None:
    """The index mapping is the envelope plus the derived payload mapping, unindexed
    fields staying out (dynamic: false)."""
    mapping = audit_mapping()
    assert mapping["dynamic"] is False
    assert payload_mapping().items() <= mapping["properties"].items()
    assert "prompt_encrypted" not in mapping["properties"]
    assert "message_redactions" not in mapping["properties"]


def test_every_field_is_documented() -> None:
    """Every field of every kind has a Field with a non-empty meaning, and a page row."""
    page = render_docs()
    for record_type in [*RECORD_KINDS.values(), *records.PARTS]:
        for info in describe(record_type):
            assert info.field.doc.strip(), f"{record_type.__name__}.{info.name}"
            assert f"| `{info.name}` |" in page


def test_conflicting_field_mappings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field name mapped differently by two kinds is an error, not a silent pick."""

    class Clash(records.OutcomeRecord):
        model: Annotated[int, records.Field("clash", records.INTEGER)]

    monkeypatch.setattr(records, "RECORD_KINDS", {**RECORD_KINDS, "clash": Clash})
    with pytest.raises(TypeError, match="model"):
        payload_mapping()


def test_missing_field_metadata_is_refused() -> None:
    """A field without its Field metadata cannot be documented or mapped: refused."""

    class Bare(TypedDict):
        name: str

    with pytest.raises(TypeError, match=r"Bare\.name"):
        describe(Bare)


def test_undeclared_fields_are_found() -> None:
    """A written record's fields beyond its type (and the envelope) are reported;
    checkpoints have no payload type and pass."""
    record = {"kind": "outcome", "audit_id": "a", "seq": 1, "hash": "h", "request_audit_id": "r"}
    assert undeclared(record) == set()
    assert undeclared({**record, "prompt": "x"}) == {"prompt"}
    assert undeclared({"kind": "checkpoint", "covers_seq": 3}) == set()

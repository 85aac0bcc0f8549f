"""Attach governance to a document: manifest defaults < matching file rules < JSONL line.

A document without a classification is refused rather than indexed with a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema
from gateway.ingest.documents import DocumentError, RawDocument
from gateway.ingest.manifest import (
    JsonlFields,
    Manifest,
    check_doc_id,
    describe_errors,
)


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """The governance fields of one document, as every one of its chunks carries them."""

    doc_id: str
    title: str
    source_uri: str
    classification: str
    owner: str | None = None
    allowed_groups: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    tenant: str | None = None
    labels: tuple[str, ...] = ()
    created_at: datetime | None = None
    """Set explicitly (manifest or line); otherwise the first ingest of the document."""
    updated_at: datetime | None = None
    """Set explicitly; otherwise when this version was indexed."""
    custom: Mapping[str, Any] = field(default_factory=dict)
    """Fields declared in the governance schema, validated and normalised."""


class Governance:
    """Resolves each document's fields from one manifest."""

    def __init__(self, manifest: Manifest, schema: GovernanceSchema = BUILTIN_SCHEMA) -> None:
        self._manifest = manifest
        self._schema = schema
        self._used: set[int] = set()

    def resolve(self, document: RawDocument) -> DocumentMeta:
        """The document's governance fields, or DocumentError saying what is missing."""
        rel = document.source.rel
        values: dict[str, Any] = self._manifest.defaults.explicit()
        for number, rule in enumerate(self._manifest.files):
            if fnmatchcase(rel, rule.match):
                self._used.add(number)
                values.update(rule.explicit())
        values.pop("match", None)
        if document.line is None:
            doc_id = values.pop("doc_id", None) or _path_doc_id(rel)
        else:
            values.pop("doc_id", None)
            line = _jsonl_fields(document, self._schema)
            values.update(line.explicit())
            doc_id = values.pop("doc_id")
        if "classification" not in values:
            raise DocumentError(
                "no classification: set it in the manifest (defaults or files) or on the JSONL line"
            )
        default_title = doc_id if document.line is not None else PurePosixPath(rel).stem
        title = values.pop("title", None) or document.title_hint or default_title
        source_uri = values.pop("source_uri", None) or self._default_uri(document, doc_id)
        for name in ("allowed_groups", "allowed_users", "labels"):
            if name in values:
                values[name] = tuple(dict.fromkeys(values[name]))
        custom = {name: values.pop(name) for name in list(values) if name in self._schema.custom}
        for name, value in custom.items():
            if isinstance(value, list):
                custom[name] = list(dict.fromkeys(value))
        return DocumentMeta(
            doc_id=doc_id, title=title, source_uri=source_uri, custom=custom, **values
        )

    def unused_rules(self) -> list[str]:
        """``match`` patterns of file rules that matched no file so far (likely typos)."""
        rules = self._manifest.files
        return [rule.match for n, rule in enumerate(rules) if n not in self._used]

    def _default_uri(self, document: RawDocument, doc_id: str) -> str:
        base = self._manifest.source_uri_base
        uri = (
            base + quote(document.source.rel)
            if base is not None
            else document.source.path.resolve().as_uri()
        )
        return uri if document.line is None else f"{uri}#{quote(doc_id, safe='')}"


def _path_doc_id(rel: str) -> str:
    try:
        return check_doc_id(rel)
    except ValueError as exc:
        raise DocumentError(f"the file's path is no usable doc_id ({exc}): set doc_id") from None


def _jsonl_fields(document: RawDocument, schema: GovernanceSchema) -> JsonlFields:
    try:
        return JsonlFields.model_validate(dict(document.record), context={"schema": schema})
    except ValidationError as exc:
        raise DocumentError(describe_errors(exc).replace("\n", "; ")) from None

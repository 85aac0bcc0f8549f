"""The governance schema: which fields documents carry, their types, and allowed values.

One YAML file (``GATEWAY_GOVERNANCE_SCHEMA_FILE``), read by ingest (validation, index
mapping) and by the gateway (the retrieval policy's ``input.document``, the filter
translator, ``gateway explain``), so both sides agree on every field:

```yaml
classification: [public, internal, confidential, restricted]   # the default list
fields:
  department: keyword                      # one string
  denied_users: keyword_list               # strings; policies use lists.has(...)
  region: {type: keyword, values: [EU, US, APAC]}   # an enum, matched case-insensitively
  embargo_until: date                      # RFC 3339 / YYYY-MM-DD, stored as UTC
  retention_years: integer
  legal_hold: boolean
```

Without a file, documents carry the built-in fields only. Classification and enum
values are matched case-insensitively at ingest and stored as the schema spells them,
so a policy compares with one spelling. Field names are lower-case identifiers that do
not collide with the built-in fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

FieldType = Literal["keyword", "keyword_list", "date", "integer", "boolean"]

DEFAULT_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

BUILTIN_FIELDS: Mapping[str, FieldType] = {
    "doc_id": "keyword",
    "corpus": "keyword",
    "tenant": "keyword",
    "classification": "keyword",
    "owner": "keyword",
    "source_uri": "keyword",
    "allowed_groups": "keyword_list",
    "allowed_users": "keyword_list",
    "labels": "keyword_list",
    "created_at": "date",
    "updated_at": "date",
}
"""Governance fields every document has (or may have); policies see all of them."""

RESERVED_NAMES = frozenset(
    {
        *BUILTIN_FIELDS,
        "chunk_id",
        "doc_version",
        "chunk_index",
        "title",
        "content_hash",
        "chunk_sha256",
        "text",
        "start",
        "end",
        "token_count",
        "pii",
        "fingerprints",
        "ingested_at",
        "match",
    }
)

_NAME = r"^[a-z][a-z0-9_]{0,62}$"
_ES_TYPES: Mapping[FieldType, str] = {
    "keyword": "keyword",
    "keyword_list": "keyword",
    "date": "date",
    "integer": "long",
    "boolean": "boolean",
}


class SchemaError(Exception):
    """The schema file is unusable: a configuration error."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    values: tuple[str, ...] | None = None
    """For keyword and keyword_list fields: the allowed values (case-insensitive at ingest)."""

    def canonical(self, value: str) -> str | None:
        """The schema's spelling of ``value``, or None when it is not allowed."""
        if self.values is None:
            return value
        folded = value.casefold()
        return next((v for v in self.values if v.casefold() == folded), None)


@dataclass(frozen=True, slots=True)
class GovernanceSchema:
    classifications: tuple[str, ...] = DEFAULT_CLASSIFICATIONS
    custom: Mapping[str, FieldSpec] = field(default_factory=dict)

    @property
    def classification(self) -> FieldSpec:
        return FieldSpec("classification", "keyword", self.classifications)

    def field_types(self) -> dict[str, FieldType]:
        """Every field a retrieval policy may compare: built-in and custom."""
        return {**BUILTIN_FIELDS, **{name: spec.type for name, spec in self.custom.items()}}

    def list_fields(self) -> tuple[str, ...]:
        return tuple(name for name, kind in self.field_types().items() if kind == "keyword_list")

    def es_properties(self) -> dict[str, Any]:
        """Mapping properties of the custom fields (the built-ins are in chunk_mapping)."""
        return {name: {"type": _ES_TYPES[spec.type]} for name, spec in self.custom.items()}


BUILTIN_SCHEMA = GovernanceSchema()


Name = Annotated[str, StringConstraints(pattern=_NAME)]
Value = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _FieldEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType
    values: list[Value] | None = Field(default=None, min_length=1)


class _SchemaFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    classification: list[Value] = Field(
        default_factory=lambda: list(DEFAULT_CLASSIFICATIONS), min_length=1
    )
    fields: dict[Name, FieldType | _FieldEntry] = Field(default_factory=dict)


def parse_schema(data: Any, where: str = "governance schema") -> GovernanceSchema:
    """Validate a parsed schema document; SchemaError names each problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected a mapping with classification and fields")
    try:
        parsed = _SchemaFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise SchemaError(f"{where}: {problems}") from None
    custom: dict[str, FieldSpec] = {}
    for name, entry in parsed.fields.items():
        if name in RESERVED_NAMES:
            raise SchemaError(f"{where}: fields.{name}: the name is taken by a built-in field")
        spec = entry if isinstance(entry, _FieldEntry) else _FieldEntry(type=entry)
        if spec.values is not None and spec.type not in ("keyword", "keyword_list"):
            raise SchemaError(f"{where}: fields.{name}: values are for keyword fields only")
        values = tuple(spec.values) if spec.values is not None else None
        custom[name] = FieldSpec(name, spec.type, values)
        _check_unique_case(where, f"fields.{name}.values", values or ())
    _check_unique_case(where, "classification", parsed.classification)
    return GovernanceSchema(tuple(parsed.classification), custom)


def load_schema(path: Path | None) -> GovernanceSchema:
    """The schema in ``path``, or the built-in fields alone when no file is configured."""
    if path is None:
        return BUILTIN_SCHEMA
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise SchemaError(f"{path}: not valid YAML") from None
    return parse_schema(data, str(path))


def _check_unique_case(where: str, what: str, values: Any) -> None:
    folded = [str(v).casefold() for v in values]
    if len(set(folded)) != len(folded):
        raise SchemaError(f"{where}: {what}: values must differ in more than letter case")

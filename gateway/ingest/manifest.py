"""The corpus manifest: governance defaults and per-file overrides, validated strictly.

```yaml
corpus: acme-handbook            # optional; must equal --corpus when given
defaults:                        # every document starts from these
  classification: internal       # public | internal | confidential | restricted
  tenant: acme
  owner: people-team
  allowed_groups: [employees]
source_uri_base: https://wiki.acme.example/handbook/   # optional: base + file path
files:                           # in order; a later match wins, field by field
  - match: "security/*"          # shell pattern on the path below PATH ("*" spans "/")
    classification: confidential
    allowed_groups: [security]
  - match: security/incident-runbook.md
    doc_id: acme-incident-runbook
    title: Security incident runbook
```

A JSONL line carries its own fields (``doc_id`` required), which win over the manifest.

Fields beyond the built-in ones must be declared in the governance schema
(``GATEWAY_GOVERNANCE_SCHEMA_FILE``, see ``gateway.governance_schema``) and are checked
against its types; classification and enum values are matched case-insensitively and
stored as the schema spells them. Names (groups, users, owner, tenant, labels) are kept
exactly as written, as the API-keys file and JWT claims are: surrounding spaces are an
error rather than silently stripped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from gateway.governance_schema import BUILTIN_SCHEMA, FieldSpec, FieldType, GovernanceSchema

CORPUS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_DOC_ID_MAX_BYTES = 256


class ManifestError(Exception):
    """The manifest (or --corpus) is unusable: a configuration error, exit code 2."""


def _date_as_datetime(value: Any) -> Any:
    """YAML reads ``2026-01-31`` as a date: midnight UTC of that day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def _day_as_datetime(value: Any) -> Any:
    """``2026-01-31`` (YAML date or JSON string): midnight UTC of that day."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return _date_as_datetime(value)


def _exact_name(value: str) -> str:
    """Names are compared exactly with the keys file and JWT claims: no padding."""
    if value != value.strip():
        raise ValueError("has leading or trailing spaces (names are compared exactly)")
    return value


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_doc_id(value: str) -> str:
    """A doc_id fits in a chunk_id (Elasticsearch ids are at most 512 bytes)."""
    if len(value.encode("utf-8")) > _DOC_ID_MAX_BYTES:
        raise ValueError(f"doc_id is longer than {_DOC_ID_MAX_BYTES} bytes")
    if any(ord(char) < 32 for char in value):
        raise ValueError("doc_id contains control characters")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_day_as_datetime), AfterValidator(_as_utc)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_exact_name)]
DocId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(check_doc_id)
]
CorpusName = Annotated[str, StringConstraints(pattern=CORPUS_PATTERN)]


_ADAPTERS: dict[FieldType, TypeAdapter[Any]] = {
    "keyword": TypeAdapter(Name),
    "keyword_list": TypeAdapter(list[Name]),
    "date": TypeAdapter(Timestamp),
    "integer": TypeAdapter(StrictInt),
    "boolean": TypeAdapter(StrictBool),
}


class DocumentFields(BaseModel):
    """Governance fields a manifest entry or a JSONL line may set; unset fields inherit.

    Validate with ``context={"schema": GovernanceSchema}`` for custom fields (without
    it, the built-in fields only).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    title: Annotated[str, StringConstraints(max_length=1000)] | None = None
    source_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    classification: Name | None = None
    owner: Name | None = None
    allowed_groups: list[Name] | None = None
    allowed_users: list[Name] | None = None
    tenant: Name | None = None
    labels: list[Name] | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    @model_validator(mode="after")
    def _schema_fields(self, info: ValidationInfo) -> DocumentFields:
        """Classification from the schema's list; extra fields by their declared type."""
        context = info.context if isinstance(info.context, dict) else {}
        schema = cast(GovernanceSchema, context.get("schema", BUILTIN_SCHEMA))
        problems: list[str] = []
        if self.classification is not None:
            canonical = schema.classification.canonical(self.classification)
            if canonical is None:
                problems.append(
                    f"classification: must be one of {', '.join(schema.classifications)}"
                )
            else:
                object.__setattr__(self, "classification", canonical)
        extra = self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}
        for name in list(extra):
            spec = schema.custom.get(name)
            if spec is None:
                problems.append(f"{name}: unknown field (declare it in the governance schema)")
            elif extra[name] is not None:
                try:
                    extra[name] = _custom_value(spec, extra[name])
                except ValueError as exc:
                    problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def explicit(self) -> dict[str, Any]:
        """The fields this entry sets (a ``null`` value sets nothing)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}


def _custom_value(spec: FieldSpec, value: Any) -> Any:
    try:
        checked = _ADAPTERS[spec.type].validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"{spec.name}: {problem}") from None
    if spec.values is None:
        return checked
    items = checked if isinstance(checked, list) else [checked]
    canonical = [spec.canonical(item) for item in items]
    if any(item is None for item in canonical):
        raise ValueError(f"{spec.name}: must be one of {', '.join(spec.values)}")
    return canonical if isinstance(checked, list) else canonical[0]


class FileRule(DocumentFields):
    """Overrides for the files whose path matches ``match``."""

    match: Annotated[str, StringConstraints(min_length=1)]
    doc_id: DocId | None = None

    @model_validator(mode="after")
    def _doc_id_names_one_file(self) -> FileRule:
        if self.doc_id is not None and any(char in self.match for char in "*?["):
            raise ValueError("doc_id names one document: use a path without *, ? or [ in match")
        return self


class JsonlFields(DocumentFields):
    """A JSONL line's fields besides ``text``."""

    doc_id: DocId


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    corpus: CorpusName | None = None
    defaults: DocumentFields = Field(default_factory=DocumentFields)
    source_uri_base: Annotated[str, StringConstraints(min_length=1)] | None = None
    files: list[FileRule] = Field(default_factory=list)


def load_manifest(path: Path, schema: GovernanceSchema = BUILTIN_SCHEMA) -> Manifest:
    """Parse and validate a manifest file, or raise ManifestError naming each problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ManifestError(f"{path}: not valid YAML{line}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a mapping with corpus, defaults and files")
    try:
        return Manifest.model_validate(data, context={"schema": schema})
    except ValidationError as exc:
        raise ManifestError(describe_errors(exc, str(path))) from None


def check_corpus(corpus: str, manifest: Manifest) -> None:
    """--corpus must be a valid name and agree with the manifest's ``corpus``."""
    try:
        Manifest.model_validate({"corpus": corpus})
    except ValidationError:
        raise ManifestError(
            f"--corpus {corpus!r}: use 1-64 letters, digits, '.', '_' or '-'"
        ) from None
    if manifest.corpus is not None and manifest.corpus != corpus:
        raise ManifestError(
            f"--corpus {corpus!r} differs from the manifest's corpus {manifest.corpus!r}"
        )


def describe_errors(exc: ValidationError, where: str | None = None) -> str:
    """One line per problem, naming the field; never the offending value."""
    lines = []
    for error in exc.errors():
        location = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        message = message.removeprefix("Value error, ")
        line = f"{location}: {message}" if location else message
        lines.append(line if where is None else f"{where}: {line}")
    return "\n".join(lines)

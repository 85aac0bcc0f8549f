"""The audit records' payloads, typed: the one source of their fields.

Each record kind is a ``TypedDict`` whose fields carry a ``Field`` (what it means and how
Elasticsearch indexes it) in ``Annotated``. From these types come the payload part of the
audit index mapping (``payload_mapping``, used by ``gateway.audit.shipper``) and the
reference page ``docs/audit-records.md`` (``render_docs``; a unit test fails when the page
and the types disagree). The envelope (``seq``, ``time``, hashes, checkpoints) belongs
to the writer and is not described here.

Why ``TypedDict`` and not dataclasses or pydantic: a record *is* a JSON object, written
as is (``AuditLog.append(kind, fields)``) and read back as a dict by verify, query and
export. TypedDicts type those dicts statically (mypy checks every key and value where a
record is built) at no cost per request, and ``NotRequired`` says exactly what the trail
stores: some fields are present as ``null`` (``key_id`` of a JWT caller), others absent
(``denial_reasons`` of an allowed request). A class instance would need converting on
the hot path and would blur that difference.

Regenerate the page with ``uv run python -m gateway.audit.records > docs/audit-records.md``.
"""

# No ``from __future__ import annotations``: TypedDict must see ``NotRequired`` as it is
# declared (Python 3.11 cannot tell it apart in a string annotation).
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, TypedDict, Union, get_args, get_origin

# -- field metadata -------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """What a field means and how the audit index maps it (None: kept in ``_source``
    only, not searchable)."""

    doc: str
    es: Mapping[str, Any] | None = None


KEYWORD: Mapping[str, Any] = {"type": "keyword"}
BOOLEAN: Mapping[str, Any] = {"type": "boolean"}
INTEGER: Mapping[str, Any] = {"type": "integer"}
FLOAT: Mapping[str, Any] = {"type": "float"}
TEXT: Mapping[str, Any] = {"type": "text"}
OBJECT: Mapping[str, Any] = {"type": "object"}
"""An object (or array of objects) whose own typed fields are mapped."""


# -- parts ----------------------------------------------------------------------------


class Redaction(TypedDict):
    """One kind of redaction applied at one site: counts, never values."""

    site: NotRequired[Annotated[str, Field("Where: a body site (``messages[0].content``).")]]
    entity_type: Annotated[str, Field("Presidio entity type, e.g. ``PERSON``.")]
    operator: Annotated[str, Field("replace, mask, hash or keep, as policy said.")]
    count: Annotated[int, Field("How many values were redacted so.")]


class ChunkEntry(TypedDict):
    """A retrieved chunk that entered the prompt."""

    doc_id: Annotated[str | None, Field("Source document id.", KEYWORD)]
    doc_version: Annotated[str | None, Field("Document version at ingest.", KEYWORD)]
    chunk_id: Annotated[str | None, Field("Chunk id.", KEYWORD)]
    corpus: Annotated[str | None, Field("Corpus the document belongs to.", KEYWORD)]
    classification: Annotated[str | None, Field("Document classification.", KEYWORD)]
    sha256_original: Annotated[str, Field("SHA-256 of the chunk as stored.", KEYWORD)]
    sha256_injected: Annotated[str, Field("SHA-256 of the chunk as injected.", KEYWORD)]
    redactions: Annotated[list[Redaction], Field("Redactions applied to the chunk.")]


class FileInput(TypedDict):
    """A file a model request named (a chat ``file`` part, a Responses ``input_file``...)."""

    file_id: Annotated[str, Field("The gateway's file id, as the caller sent it.", KEYWORD)]
    upstream_file_id: Annotated[str, Field("The upstream's id, sent in its place.", KEYWORD)]
    purpose: Annotated[str, Field("The file's purpose.", KEYWORD)]


class Retrieval(TypedDict):
    """Whether the request retrieved, and for what (hashed)."""

    enabled: Annotated[bool, Field("A retrieval query was run.")]
    query_sha256: Annotated[str | None, Field("SHA-256 of the query text.")]


# Fields the writer adds from the request scope to every request-level record of that
# request (``gateway.request_scope``), when known.
_SCOPE_NOTE = " Added from the request scope when the writer's caller did not set it."


# -- record kinds ---------------------------------------------------------------------


class RequestRecord(TypedDict):
    """``request``: one per authenticated model request (chat, embeddings, Responses),
    and for any other authenticated request that no endpoint recorded (a 400, an
    unsupported endpoint, a dependency failure): allowed and forwarded, denied by policy,
    or refused. Written before anything is sent upstream."""

    request_id: Annotated[str, Field("The gateway's request id (``x-request-id``).", KEYWORD)]
    endpoint: Annotated[
        str | None,
        Field("Policy action (``chat.completions``, ``embeddings``) or ``METHOD /path``.", KEYWORD),
    ]
    subject: Annotated[str | None, Field("The authenticated principal.", KEYWORD)]
    groups: Annotated[list[str], Field("The principal's groups.", KEYWORD)]
    key_id: Annotated[str | None, Field("Id of the API key used (null for a JWT).", KEYWORD)]
    policy_revision: Annotated[
        str | None, Field("Revision of the policy bundle that decided.", KEYWORD)
    ]
    allowed: Annotated[bool, Field("Policy allowed the request and it was forwarded.", BOOLEAN)]
    client_request_id: NotRequired[
        Annotated[str | None, Field("The caller's own ``x-request-id``." + _SCOPE_NOTE, KEYWORD)]
    ]
    client_address: NotRequired[
        Annotated[str | None, Field("Client IP address." + _SCOPE_NOTE, KEYWORD)]
    ]
    user_agent: NotRequired[
        Annotated[
            str | None,
            Field("Client User-Agent." + _SCOPE_NOTE, {"type": "keyword", "ignore_above": 512}),
        ]
    ]
    model: NotRequired[Annotated[str, Field("The model requested.", KEYWORD)]]
    stream: NotRequired[Annotated[bool, Field("A streamed answer was requested.", BOOLEAN)]]
    policy_decision_ids: NotRequired[
        Annotated[list[str], Field("OPA decision ids (for OPA's decision log).", KEYWORD)]
    ]
    policy_decision_cached: NotRequired[
        Annotated[bool, Field("The authorization came from the decision cache.", BOOLEAN)]
    ]
    denial_reasons: NotRequired[Annotated[list[str], Field("Why policy denied.", TEXT)]]
    refused: NotRequired[Annotated[str | None, Field("Error code of a request refused.", KEYWORD)]]
    status: NotRequired[Annotated[int, Field("HTTP status of a refused request.", INTEGER)]]
    rate_limit_tokens_charged: NotRequired[
        Annotated[int, Field("Tokens charged to the caller's budget on admission.")]
    ]
    retrieval: NotRequired[Annotated[Retrieval, Field("Retrieval for this request.")]]
    chunks: NotRequired[
        Annotated[list[ChunkEntry], Field("Chunks that entered the prompt.", OBJECT)]
    ]
    message_redactions: NotRequired[
        Annotated[list[Redaction], Field("Redactions applied to the caller's body.")]
    ]
    input_sha256: NotRequired[
        Annotated[
            list[str],
            Field(
                "Embeddings: SHA-256 of each input string as received (never the text).", KEYWORD
            ),
        ]
    ]
    files: NotRequired[
        Annotated[
            list[FileInput],
            Field("Files the body named, with the upstream ids sent in their place.", OBJECT),
        ]
    ]
    file_id: NotRequired[
        Annotated[
            str,
            Field(
                "A file id the body named that was refused: not the caller's or unknown "
                "(404), not usable yet, or governed since its scan; or one a continued "
                "conversation holds (``previous_response_id``), refused so or deleted.",
                KEYWORD,
            ),
        ]
    ]
    upstream_body_sha256: NotRequired[
        Annotated[str, Field("SHA-256 of the exact bytes sent upstream.", KEYWORD)]
    ]
    prompt_encrypted: NotRequired[
        Annotated[str, Field("The upstream body, encrypted (only if prompts are stored).")]
    ]
    response_id: NotRequired[
        Annotated[
            str,
            Field(
                "Responses API: the stored response read, deleted or cancelled, or the one "
                "refused as another caller's (also a ``previous_response_id``).",
                KEYWORD,
            ),
        ]
    ]


class OutcomeRecord(TypedDict):
    """``outcome``: completes a forwarded request once the upstream answered, failed, or
    the client went away."""

    request_audit_id: Annotated[str, Field("audit_id of the request record.", KEYWORD)]
    upstream_latency_ms: Annotated[float, Field("Time to the upstream's answer.", FLOAT)]
    status: NotRequired[Annotated[int, Field("Upstream HTTP status.", INTEGER)]]
    usage: NotRequired[Annotated[dict[str, Any], Field("The upstream's token usage.")]]
    finish_reason: NotRequired[Annotated[str, Field("First choice's finish reason.", KEYWORD)]]
    stream_completed: NotRequired[
        Annotated[
            bool,
            Field(
                "The stream reached its end (false: cut by either side, or ended by the "
                "upstream's own error event; ``error`` says which).",
                BOOLEAN,
            ),
        ]
    ]
    error: NotRequired[Annotated[str | None, Field("Error code of a failed call.", KEYWORD)]]


class FinetuneRecord(TypedDict):
    """``finetune``: a files or fine-tuning call: the policy's decision over the upload
    scan (or job re-check), a read of the caller's own object, or what was stored."""

    request_id: Annotated[str, Field("The gateway's request id.", KEYWORD)]
    subject: Annotated[str | None, Field("The authenticated principal.", KEYWORD)]
    groups: Annotated[list[str], Field("The principal's groups.", KEYWORD)]
    key_id: Annotated[str | None, Field("Id of the API key used.", KEYWORD)]
    action: Annotated[
        str, Field("``files.create``, ``files.stored``, ``fine_tuning.jobs.create``...", KEYWORD)
    ]
    allowed: NotRequired[Annotated[bool, Field("Policy allowed the call.", BOOLEAN)]]
    reasons: NotRequired[Annotated[list[str], Field("The policy's reasons.")]]
    violations: NotRequired[
        Annotated[list[dict[str, Any]], Field("Structured refusals (overlap, pii).")]
    ]
    policy_decision_ids: NotRequired[Annotated[list[str], Field("OPA decision ids.", KEYWORD)]]
    refused: NotRequired[Annotated[str | None, Field("Error code of a call refused.", KEYWORD)]]
    status: NotRequired[Annotated[int, Field("HTTP status of a refused call.", INTEGER)]]
    purpose: NotRequired[Annotated[str, Field("Upload purpose.")]]
    bytes: NotRequired[Annotated[int, Field("Upload size.")]]
    sha256: NotRequired[Annotated[str, Field("SHA-256 of the uploaded file.")]]
    examples: NotRequired[Annotated[int, Field("Training examples scanned.")]]
    scan_ms: NotRequired[Annotated[dict[str, float], Field("Scan timings.")]]
    pii_found: NotRequired[Annotated[list[dict[str, Any]], Field("PII findings (types, lines).")]]
    model: NotRequired[Annotated[str, Field("Base model of a job.", KEYWORD)]]
    training_file: NotRequired[Annotated[str, Field("A job's training file id.")]]
    validation_file: NotRequired[Annotated[str, Field("A job's validation file id.")]]
    file_sha256: NotRequired[
        Annotated[str, Field("SHA-256 of a job's file, or of a file used as input.")]
    ]
    file_id: NotRequired[Annotated[str, Field("The file concerned.", KEYWORD)]]
    rematched: NotRequired[
        Annotated[
            bool,
            Field(
                "``files.use``: the file was matched against the corpus again (it changed "
                "since the file's last match).",
                BOOLEAN,
            ),
        ]
    ]
    job_id: NotRequired[Annotated[str, Field("The fine-tuning job concerned.", KEYWORD)]]
    decision_audit_id: NotRequired[Annotated[str, Field("audit_id of the decision record.")]]
    file_status: NotRequired[
        Annotated[str, Field("A file's status when recorded (``uploaded``).", KEYWORD)]
    ]
    upstream_file_id: NotRequired[
        Annotated[str, Field("The upstream's id of a stored file (``files.stored``).", KEYWORD)]
    ]
    scan_owner: NotRequired[
        Annotated[str | None, Field("Replica whose scan lease ran out (``files.scanned``).")]
    ]
    endpoint: NotRequired[Annotated[str | None, Field("Endpoint." + _SCOPE_NOTE, KEYWORD)]]
    client_request_id: NotRequired[
        Annotated[str | None, Field("Caller's x-request-id." + _SCOPE_NOTE, KEYWORD)]
    ]
    client_address: NotRequired[
        Annotated[str | None, Field("Client IP address." + _SCOPE_NOTE, KEYWORD)]
    ]
    user_agent: NotRequired[
        Annotated[
            str | None,
            Field("Client User-Agent." + _SCOPE_NOTE, {"type": "keyword", "ignore_above": 512}),
        ]
    ]
    policy_revision: NotRequired[
        Annotated[str | None, Field("Policy revision." + _SCOPE_NOTE, KEYWORD)]
    ]


class AdminAccessRecord(TypedDict):
    """``admin_access``: a read of the audit trail (admin API, review pages), allowed or
    not."""

    request_id: Annotated[str, Field("The gateway's request id.", KEYWORD)]
    endpoint: Annotated[str, Field("``audit.read``.", KEYWORD)]
    subject: Annotated[str, Field("The authenticated principal.", KEYWORD)]
    groups: Annotated[list[str], Field("The principal's groups.", KEYWORD)]
    what: Annotated[str, Field("What was read (search, show, exposure, a review page).")]
    allowed: Annotated[bool, Field("Policy allowed the read.", BOOLEAN)]
    policy_decision_ids: Annotated[list[str], Field("OPA decision ids.", KEYWORD)]
    key_id: NotRequired[
        Annotated[str | None, Field("Id of the API key used." + _SCOPE_NOTE, KEYWORD)]
    ]
    client_request_id: NotRequired[
        Annotated[str | None, Field("Caller's x-request-id." + _SCOPE_NOTE, KEYWORD)]
    ]
    client_address: NotRequired[
        Annotated[str | None, Field("Client IP address." + _SCOPE_NOTE, KEYWORD)]
    ]
    user_agent: NotRequired[
        Annotated[
            str | None,
            Field("Client User-Agent." + _SCOPE_NOTE, {"type": "keyword", "ignore_above": 512}),
        ]
    ]
    policy_revision: NotRequired[
        Annotated[str | None, Field("Policy revision." + _SCOPE_NOTE, KEYWORD)]
    ]


RECORD_KINDS: Mapping[str, type] = {
    "request": RequestRecord,
    "outcome": OutcomeRecord,
    "finetune": FinetuneRecord,
    "admin_access": AdminAccessRecord,
}
"""Record kind (the envelope's ``kind``) -> its payload type."""


ENVELOPE = frozenset({"audit_id", "kind", "seq", "time", "prev_hash", "hash", "scrubbed_fields"})
"""Fields the writer adds to every record (``gateway.audit.writer``)."""


def undeclared(record: Mapping[str, Any]) -> set[str]:
    """Fields of a written record that its kind's type does not declare (empty for a
    kind without a payload type, e.g. checkpoints): what tests check records against."""
    record_type = RECORD_KINDS.get(str(record.get("kind")))
    if record_type is None:
        return set()
    declared = {info.name for info in describe(record_type)}
    return set(record) - declared - ENVELOPE


# -- derivations ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    name: str
    annotation: Any
    """The field's type, without ``NotRequired`` and ``Annotated``."""
    required: bool
    field: Field


def describe(record_type: type) -> list[FieldInfo]:
    """The fields of a record (or part) type, in declaration order."""
    module = sys.modules[record_type.__module__]
    hints = typing.get_type_hints(record_type, vars(module), include_extras=True)
    required: frozenset[str] = record_type.__required_keys__  # type: ignore[attr-defined]
    infos = []
    for name, hint in hints.items():
        annotation, metadata = _unwrap(hint)
        fields = [m for m in metadata if isinstance(m, Field)]
        if len(fields) != 1:
            raise TypeError(f"{record_type.__name__}.{name} needs exactly one Field")
        infos.append(FieldInfo(name, annotation, name in required, fields[0]))
    return infos


def _unwrap(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(hint) is NotRequired:
        hint = get_args(hint)[0]
    if get_origin(hint) is Annotated:
        return hint.__origin__, hint.__metadata__
    return hint, ()


def _part(annotation: Any) -> type | None:
    """The TypedDict inside ``X``, ``list[X]`` or ``X | None``, if any."""
    candidates = [annotation, *get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and hasattr(candidate, "__required_keys__"):
            return candidate
    return None


def _mapping_of(record_type: type) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for info in describe(record_type):
        es = info.field.es
        if es is None:
            continue
        if es == OBJECT:
            part = _part(info.annotation)
            if part is None:
                raise TypeError(f"{record_type.__name__}.{info.name}: OBJECT needs a typed part")
            properties[info.name] = {"properties": _mapping_of(part)}
        else:
            properties[info.name] = dict(es)
    return properties


def payload_mapping() -> dict[str, Any]:
    """Elasticsearch ``properties`` for every record kind's indexed fields.

    A field name means one thing in every kind: two kinds mapping it differently is a
    programming error (raised here, caught by the unit tests).
    """
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for kind, record_type in RECORD_KINDS.items():
        for name, mapping in _mapping_of(record_type).items():
            if name in merged and merged[name] != mapping:
                raise TypeError(f"field {name!r} is mapped differently in {owner[name]} and {kind}")
            merged.setdefault(name, mapping)
            owner.setdefault(name, kind)
    return merged


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if origin is dict:
        return "object"
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and hasattr(annotation, "__required_keys__"):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _es_name(es: Mapping[str, Any] | None) -> str:
    if es is None:
        return ""
    if es == OBJECT:
        return "object (fields below)"
    return str(es["type"])


def _table(record_type: type) -> list[str]:
    lines = [
        "| field | type | always present | indexed as | meaning |",
        "|---|---|---|---|---|",
    ]
    for info in describe(record_type):
        present = "yes" if info.required else ""
        lines.append(
            f"| `{info.name}` | {_type_name(info.annotation)} | {present} | "
            f"{_es_name(info.field.es)} | {_markdown(info.field.doc)} |"
        )
    return lines


def _markdown(text: str) -> str:
    return " ".join(text.split()).replace("``", "`")


def _doc(record_type: type) -> str:
    return _markdown(record_type.__doc__ or "")


PARTS: tuple[type, ...] = (ChunkEntry, FileInput, Redaction, Retrieval)


def render_docs() -> str:
    """The reference page ``docs/audit-records.md``."""
    lines = [
        "# Audit records",
        "",
        "Generated from `gateway/audit/records.py` by "
        "`uv run python -m gateway.audit.records > docs/audit-records.md`; "
        "do not edit by hand (a unit test compares the two).",
        "",
        "Every record also carries the writer's envelope (`audit_id`, `kind`, `seq`, "
        "`time`, `prev_hash`, `hash`...; see `gateway/audit/writer.py`). Fields "
        "'indexed as' a type are searchable in the `<prefix>-audit` Elasticsearch index; "
        "the others are kept in `_source` only. No record holds a prompt, an input or a "
        "credential in clear: texts appear as SHA-256 hashes, redactions as counts.",
        "",
    ]
    for kind, record_type in RECORD_KINDS.items():
        lines += [f"## `{kind}`", "", _doc(record_type), "", *_table(record_type), ""]
    for part in PARTS:
        lines += [f"### {part.__name__}", "", _doc(part), "", *_table(part), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_docs())

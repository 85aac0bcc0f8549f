"""One audit record -> one OCSF 1.9 API Activity event (class_uid 6003).

The mapping is documented field by field in ``docs/siem-export.md``. In short: the actor
is the subject, ``api.operation`` the endpoint, ``resources`` every chunk that entered the
prompt (document, version, corpus, classification, hashes and redaction counts: never
text), the ``security_control`` profile carries the policy verdict, ``ai_operation`` the
model and the token usage, and ``record_integrity`` the record's place in the hash
chain: its SHA-256 as the attestation's fingerprint and its predecessor's as
``prev_event.fingerprint``. Those are the gateway's own chain hashes (over the source
record, see ``gateway.audit.chain``), so ``gateway audit verify`` on the log re-checks
them; OCSF 1.9 has no field naming a serialization for an unsigned attestation, so that
choice is stated in ``metadata.labels`` as ``fingerprint:gateway-audit-record``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

OCSF_VERSION = "1.9.0"
CLASS_UID = 6003  # Application Activity (6) / API Activity (3)
CATEGORY_UID = 6
PRODUCT = {"name": "governance-gateway", "vendor_name": "governance-gateway"}
PROFILES = ["ai_operation", "record_integrity", "security_control"]
SHA256 = {"algorithm_id": 3, "algorithm": "SHA-256"}

# activity_id: API Activity's CRUD verbs; 99 (Other) for the log's own records.
_ACTIVITIES: dict[str, tuple[int, str]] = {
    "chat.completions": (1, "Create"),
    "audit.read": (2, "Read"),
}
_OTHER = (99, "Other")
# Fields carried by a mapped attribute; everything else goes to ``unmapped``.
_MAPPED = frozenset(
    {
        "audit_id",
        "kind",
        "seq",
        "time",
        "prev_hash",
        "hash",
        "request_id",
        "endpoint",
        "subject",
        "groups",
        "key_id",
        "client_address",
        "user_agent",
        "model",
        "allowed",
        "denial_reasons",
        "refused",
        "status",
        "policy_revision",
        "chunks",
        "usage",
        "request_audit_id",
        "error",
        "action",
    }
)
# Never exported: the encrypted prompt stays in the log (``gateway audit show --decrypt``).
_DROPPED = frozenset({"prompt_encrypted"})


def to_ocsf(
    record: dict[str, Any],
    *,
    chain_uid: str,
    prev_uid: str | None,
    prev_type_uid: int | None = None,
    product_version: str = "",
) -> dict[str, Any]:
    """The OCSF event for ``record``; ``prev_uid`` is the previous record's audit id."""
    kind = str(record.get("kind", ""))
    endpoint = operation(record)
    activity_id, activity_name = _activity(kind, endpoint)
    allowed = record.get("allowed")
    failed = allowed is False or _failed_outcome(record)
    event: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": type_uid(activity_id),
        "type_name": f"API Activity: {activity_name}",
        "time": _epoch_ms(record.get("time")),
        "time_dt": record.get("time"),
        "severity_id": _severity(record),
        "status_id": 2 if failed else 1,
        "status": "Failure" if failed else "Success",
        "message": _message(record, kind, endpoint),
        "metadata": _metadata(record, product_version),
        "actor": _actor(record),
        "api": _api(record, kind, endpoint),
        "src_endpoint": _src(record),
        "attestation_list": [_attestation(record, chain_uid, prev_uid, prev_type_uid)],
    }
    detail = _status_detail(record)
    if detail:
        event["status_detail"] = detail
    if allowed is not None:
        event.update(
            action_id=1 if allowed else 2,
            action="Allowed" if allowed else "Denied",
            disposition_id=1 if allowed else 2,
            disposition="Allowed" if allowed else "Blocked",
        )
    if record.get("policy_revision"):
        event["policy"] = {
            "name": "gateway policies",
            "uid": str(record["policy_revision"]),
            "version": str(record["policy_revision"]),
            "is_applied": True,
        }
    if record.get("user_agent"):
        event["http_request"] = {"user_agent": str(record["user_agent"])}
    if isinstance(record.get("status"), int):
        event["http_response"] = {"code": record["status"]}
    resources = [_resource(chunk) for chunk in _chunks(record)]
    if resources:
        event["resources"] = resources
    if record.get("model"):
        event["ai_model"] = {"name": str(record["model"]), "ai_provider": "upstream"}
    context = _message_context(record)
    if context:
        event["message_context"] = context
    unmapped = {
        k: v for k, v in record.items() if k not in _MAPPED and k not in _DROPPED and v is not None
    }
    if unmapped:
        event["unmapped"] = unmapped
    return event


def type_uid(activity_id: int) -> int:
    return CLASS_UID * 100 + activity_id


def operation(record: dict[str, Any]) -> str:
    """The API operation: ``endpoint`` (chat, admin), ``action`` (files, fine-tuning jobs)."""
    return str(record.get("endpoint") or record.get("action") or record.get("kind", ""))


def activity_of(record: dict[str, Any]) -> int:
    """The activity_id ``to_ocsf`` gives this record (for the next event's prev_event)."""
    return _activity(str(record.get("kind", "")), operation(record))[0]


# Fine-tuning actions by their last word: files.create, fine_tuning.jobs.list, ...
_VERBS: dict[str, tuple[int, str]] = {
    "create": (1, "Create"),
    "created": (1, "Create"),
    "stored": (1, "Create"),
    "list": (2, "Read"),
    "retrieve": (2, "Read"),
    "content": (2, "Read"),
    "events": (2, "Read"),
    "cancel": (3, "Update"),
    "delete": (4, "Delete"),
}


def _activity(kind: str, endpoint: str) -> tuple[int, str]:
    if kind == "outcome":
        return _ACTIVITIES["chat.completions"]
    if kind == "finetune":
        return _VERBS.get(endpoint.rsplit(".", 1)[-1], _OTHER)
    return _ACTIVITIES.get(endpoint, _OTHER)


def _epoch_ms(value: object) -> int | None:
    try:
        return int(datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError:
        return None


def _failed_outcome(record: dict[str, Any]) -> bool:
    status = record.get("status")
    return bool(record.get("error")) or (isinstance(status, int) and status >= 400)


def _severity(record: dict[str, Any]) -> int:
    """1 Informational; 2 Low for a policy denial; 3 Medium for a fail-closed refusal."""
    if record.get("refused"):
        return 3
    return 2 if record.get("allowed") is False else 1


def _message(record: dict[str, Any], kind: str, endpoint: str) -> str:
    subject = record.get("subject")
    if kind == "outcome":
        return f"outcome of {record.get('request_audit_id')}"
    if kind == "checkpoint":
        return f"audit checkpoint sealing seq {record.get('covers_seq')}"
    allowed = record.get("allowed")
    verdict = "recorded" if allowed is None else ("allowed" if allowed else "denied")
    if record.get("refused"):
        verdict = f"refused ({record['refused']})"
    chunks = len(_chunks(record))
    tail = f", {chunks} chunks injected" if chunks else ""
    return f"{endpoint} by {subject} {verdict}{tail}"


def _status_detail(record: dict[str, Any]) -> str | None:
    reasons = record.get("denial_reasons")
    if isinstance(reasons, list) and reasons:
        return "; ".join(str(r) for r in reasons)
    for name in ("refused", "error"):
        if record.get(name):
            return str(record[name])
    return None


def _metadata(record: dict[str, Any], product_version: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {**PRODUCT, **({"version": product_version} if product_version else {})},
        "profiles": PROFILES,
        "uid": str(record.get("audit_id")),
        "log_name": "gateway-audit",
        "event_code": str(record.get("kind")),
        "labels": ["fingerprint:gateway-audit-record"],
    }
    if isinstance(record.get("seq"), int):
        metadata["sequence"] = record["seq"]
    correlation = record.get("request_audit_id") or record.get("request_id")
    if correlation:
        metadata["correlation_uid"] = str(correlation)
    return metadata


def _actor(record: dict[str, Any]) -> dict[str, Any]:
    subject = record.get("subject")
    if subject is None:
        return {"app_name": "governance-gateway"}
    user: dict[str, Any] = {"name": str(subject), "uid": str(subject), "type_id": 1}
    groups = record.get("groups")
    if isinstance(groups, list) and groups:
        user["groups"] = [{"name": str(g)} for g in groups]
    if record.get("key_id"):
        user["credential_uid"] = str(record["key_id"])
    return {"user": user}


def _api(record: dict[str, Any], kind: str, endpoint: str) -> dict[str, Any]:
    api: dict[str, Any] = {
        "operation": endpoint if kind != "checkpoint" else "audit.checkpoint",
        "service": {"name": "governance-gateway"},
    }
    if record.get("request_id"):
        api["request"] = {"uid": str(record["request_id"])}
    response: dict[str, Any] = {}
    if isinstance(record.get("status"), int):
        response["code"] = record["status"]
    detail = _status_detail(record)
    if detail and (record.get("allowed") is False or record.get("error")):
        response["error"] = str(record.get("refused") or record.get("error") or "denied")
        response["error_message"] = detail
    if response:
        api["response"] = response
    return api


def _src(record: dict[str, Any]) -> dict[str, Any]:
    address = record.get("client_address")
    return {"ip": str(address)} if address else {"name": "unknown"}


def _chunks(record: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = record.get("chunks")
    return [c for c in chunks if isinstance(c, dict)] if isinstance(chunks, list) else []


def _resource(chunk: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "type": "document_chunk",
        "uid": str(chunk.get("chunk_id")),
        "name": str(chunk.get("doc_id")),
        "role_id": 1,
        "data": {
            k: chunk[k]
            for k in ("classification", "sha256_original", "sha256_injected", "redactions")
            if k in chunk
        },
    }
    if chunk.get("doc_version") is not None:
        resource["version"] = str(chunk["doc_version"])
    if chunk.get("corpus"):
        resource["group"] = {"name": str(chunk["corpus"])}
    if chunk.get("classification"):
        resource["labels"] = [f"classification:{chunk['classification']}"]
    return resource


def _message_context(record: dict[str, Any]) -> dict[str, Any] | None:
    if record.get("kind") not in {"request", "outcome"}:
        return None
    context: dict[str, Any] = {"service": {"name": "governance-gateway"}}
    correlation = record.get("request_id") or record.get("request_audit_id")
    if correlation:
        context["uid"] = str(correlation)
    context["ai_role_id"] = 1 if record.get("kind") == "request" else 2
    usage = record.get("usage")
    if isinstance(usage, dict):
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if isinstance(usage.get(name), int):
                context[name] = usage[name]
    return context


def _attestation(
    record: dict[str, Any], chain_uid: str, prev_uid: str | None, prev_type_uid: int | None
) -> dict[str, Any]:
    attestation: dict[str, Any] = {
        "uid": str(record.get("audit_id")),
        "authority_uid": "governance-gateway",
        "chain_uid": chain_uid,
        "fingerprint": {**SHA256, "value": str(record.get("hash"))},
    }
    if record.get("seq") != 1:  # the genesis record has no predecessor
        previous: dict[str, Any] = {
            "uid": prev_uid or "",
            "fingerprint": {**SHA256, "value": str(record.get("prev_hash"))},
        }
        if prev_type_uid is not None:
            previous["type_uid"] = prev_type_uid
        attestation["prev_event"] = previous
    return attestation

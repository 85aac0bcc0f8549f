"""One audit record -> one ArcSight CEF line, optionally framed as an RFC 5424 syslog message.

CEF (Common Event Format, revision 25): ``CEF:0|vendor|product|version|signature id|
name|severity|key=value ...``. Header fields escape ``\\`` and ``|``; extension values
escape ``\\``, ``=`` and line breaks, so a value can never start a new field or event.
The key mapping is documented in ``docs/siem-export.md``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from gateway.audit.ocsf import operation

VENDOR = "governance-gateway"
PRODUCT = "governance-gateway"
SYSLOG_FACILITY = 13  # RFC 5424 "log audit"


def header_escape(value: str) -> str:
    flat = value.replace("\r", " ").replace("\n", " ")
    return flat.replace("\\", "\\\\").replace("|", "\\|")


def extension_escape(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("=", "\\=")
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def cef_severity(record: dict[str, Any]) -> int:
    """0 for the log's own records, 1 allowed, 4 policy denial, 6 fail-closed refusal."""
    if record.get("kind") == "checkpoint":
        return 0
    if record.get("refused"):
        return 6
    return 4 if record.get("allowed") is False else 1


def to_cef(record: dict[str, Any], product_version: str = "") -> str:
    """The CEF line for ``record`` (no trailing newline)."""
    kind = str(record.get("kind", ""))
    endpoint = operation(record)
    header = [
        "CEF:0",
        header_escape(VENDOR),
        header_escape(PRODUCT),
        header_escape(product_version or "0"),
        header_escape(f"{kind}:{endpoint}" if endpoint != kind else kind),
        header_escape(_name(record, kind, endpoint)),
        str(cef_severity(record)),
    ]
    pairs = " ".join(f"{key}={extension_escape(value)}" for key, value in _extension(record))
    return "|".join(header) + "|" + pairs


def to_syslog(record: dict[str, Any], hostname: str, product_version: str = "") -> str:
    """RFC 5424 message (``<PRI>1 TIMESTAMP HOST APP - MSGID - MSG``) carrying the CEF line."""
    severity = {0: 6, 1: 6, 4: 4, 6: 3}[cef_severity(record)]
    timestamp = str(record.get("time") or "-")
    host = _token(hostname, 255)
    msgid = _token(str(record.get("kind") or "-"), 32)
    cef = to_cef(record, product_version)
    return f"<{SYSLOG_FACILITY * 8 + severity}>1 {timestamp} {host} gateway - {msgid} - {cef}"


def _token(value: str, limit: int) -> str:
    """A syslog header field: printable ASCII without spaces, or ``-``."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


def _name(record: dict[str, Any], kind: str, endpoint: str) -> str:
    if kind == "checkpoint":
        return "audit checkpoint"
    if kind == "outcome":
        return "upstream outcome"
    if record.get("refused"):
        return f"{endpoint} refused"
    allowed = record.get("allowed")
    return endpoint + ("" if allowed is None else " allowed" if allowed else " denied")


def _extension(record: dict[str, Any]) -> list[tuple[str, str]]:
    chunks = [c for c in record.get("chunks") or [] if isinstance(c, dict)]
    pairs: list[tuple[str, object]] = [
        ("rt", _epoch_ms(record.get("time"))),
        ("externalId", record.get("audit_id")),
        ("suser", record.get("subject")),
        ("suid", record.get("key_id")),
        ("src", _ip(record.get("client_address"))),
        ("requestClientApplication", record.get("user_agent")),
        ("act", _action(record)),
        ("outcome", _outcome(record)),
        ("reason", _reason(record)),
        ("cs1Label", "model"),
        ("cs1", record.get("model")),
        ("cs2Label", "policyRevision"),
        ("cs2", record.get("policy_revision")),
        ("cs3Label", "documents"),
        ("cs3", ",".join(sorted({str(c.get("doc_id")) for c in chunks})) or None),
        ("cs4Label", "corpora"),
        ("cs4", ",".join(sorted({str(c.get("corpus")) for c in chunks})) or None),
        ("cs5Label", "recordHash"),
        ("cs5", record.get("hash")),
        ("cs6Label", "prevHash"),
        ("cs6", record.get("prev_hash")),
        ("cn1Label", "seq"),
        ("cn1", record.get("seq")),
        ("cn2Label", "chunksInjected"),
        ("cn2", len(chunks) if record.get("kind") == "request" else None),
        ("cn3Label", "httpStatus"),
        ("cn3", record.get("status")),
        ("requestContext", record.get("request_audit_id") or record.get("request_id")),
    ]
    present = [(k, str(v)) for k, v in pairs if v is not None and v != ""]
    # A label without its value is noise: drop labels whose field is absent.
    keys = {k for k, _ in present}
    return [(k, v) for k, v in present if not k.endswith("Label") or k[: -len("Label")] in keys]


def _epoch_ms(value: object) -> int | None:
    try:
        return int(datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError:
        return None


def _ip(value: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _action(record: dict[str, Any]) -> str | None:
    if record.get("refused"):
        return "refused"
    allowed = record.get("allowed")
    return None if allowed is None else ("allowed" if allowed else "denied")


def _outcome(record: dict[str, Any]) -> str | None:
    status = record.get("status")
    if (
        record.get("allowed") is False
        or record.get("error")
        or (isinstance(status, int) and status >= 400)
    ):
        return "failure"
    return "success" if record.get("kind") in {"request", "outcome", "finetune"} else None


def _reason(record: dict[str, Any]) -> str | None:
    reasons = record.get("denial_reasons")
    if isinstance(reasons, list) and reasons:
        return "; ".join(str(r) for r in reasons)
    value = record.get("refused") or record.get("error")
    return str(value) if value else None

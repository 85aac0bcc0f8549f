"""The audit trail over HTTP, for security teams: policy restricts it to auditors.

Every call is itself recorded in the audit log (who looked at what).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.audit import SearchFilters, exposure, search, show
from gateway.audit.records import AdminAccessRecord
from gateway.audit.verify import summarize, verify_all
from gateway.errors import BadRequest, NotFound, PolicyDenied
from gateway.http.auth import authenticate
from gateway.services import Services

MAX_RESULTS = 1000


async def _authorize_auditor(
    request: Request[Any, Any, Any], services: Services, what: str
) -> None:
    principal = authenticate(request, services, "audit.read")
    decision = await services.policy.authorize(principal, "audit.read")
    record: AdminAccessRecord = {
        "request_id": str(request.state.request_id),
        "endpoint": "audit.read",
        "subject": principal.subject,
        "groups": list(principal.groups),
        "what": what,
        "allowed": decision.allow,
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
    }
    await services.audit.append("admin_access", dict(record))
    if not decision.allow:
        raise PolicyDenied.because(decision.reasons)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"'{name}' must be an ISO 8601 time.", param=name, code="invalid_value"
        ) from None


@get("/admin/audit/records")
async def audit_search(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    """Search: ?subject= &doc= &corpus= &since= &until= &denied=true &kind= &limit=

    ``kind``: ``request`` (the default: chat and other proxied calls), ``finetune``
    (files and fine-tuning calls), ``outcome``, ``checkpoint``, or ``any``.
    """
    await _authorize_auditor(request, services, "search")
    query = request.query_params
    denied = query.get("denied")
    kind = query.get("kind", "request")
    try:
        limit = min(int(query.get("limit", MAX_RESULTS)), MAX_RESULTS)
    except ValueError:
        raise BadRequest("'limit' must be an integer.", param="limit") from None
    filters = SearchFilters(
        subject=query.get("subject"),
        doc_id=query.get("doc"),
        corpus=query.get("corpus"),
        since=_when(query.get("since"), "since"),
        until=_when(query.get("until"), "until"),
        denied=None if denied is None else denied.lower() == "true",
        kind=None if kind == "any" else kind,
        limit=limit,
    )
    found = await asyncio.to_thread(search, services.settings.audit_dir, filters)
    return {"object": "list", "data": found}


@get("/admin/audit/records/{audit_id:str}")
async def audit_show(
    request: Request[Any, Any, Any],
    audit_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    await _authorize_auditor(request, services, f"show {audit_id}")
    found = await asyncio.to_thread(show, services.settings.audit_dir, audit_id)
    if found is None:
        raise NotFound(f"No audit record {audit_id}.", param="audit_id")
    return found


@get("/admin/audit/exposure/{doc_id:str}")
async def audit_exposure(
    request: Request[Any, Any, Any],
    doc_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    """Every prompt, subject and time a document reached: the blast radius of a leak."""
    await _authorize_auditor(request, services, f"exposure {doc_id}")
    found = await asyncio.to_thread(exposure, services.settings.audit_dir, doc_id)
    return {"object": "list", "doc_id": doc_id, "data": found}


@get("/admin/audit/verify")
async def audit_verify(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    await _authorize_auditor(request, services, "verify")
    key = services.settings.audit_hmac_key
    reports = await asyncio.to_thread(
        verify_all, [services.settings.audit_dir], key.get_secret_value() if key else None
    )
    report = summarize(reports)  # one chain per worker: the summary, then each chain
    return {
        "ok": report.ok,
        **dataclasses.asdict(report),
        "chains": [{"ok": r.ok, **dataclasses.asdict(r)} for r in reports],
    }

"""What the gateway knows about the request it is serving, for that request's audit record.

The HTTP middleware opens one ``RequestScope`` per request (a context variable, so the
handler, the audit writer and the middleware share it without passing it through every
call). Handlers add what they learn (the principal, the model, decision ids); the audit
writer notes the first request-level record written for it. When the response starts
and an authenticated request has no record yet (a 400, OPA down, a bug), the middleware
writes one with what is known: every authenticated request leaves exactly one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gateway.identity import Principal

# Record kinds that stand for a whole request (outcome records only complete one).
REQUEST_KINDS = frozenset({"request", "admin_access", "finetune"})


@dataclass
class RequestScope:
    request_id: str
    """Gateway-generated, unique: what records and logs are keyed by."""
    method: str
    path: str
    client_address: str | None = None
    client_request_id: str | None = None
    """The caller's own ``x-request-id``, kept apart: callers may repeat or share it."""
    user_agent: str | None = None
    principal: Principal | None = None
    endpoint: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    """Request fields known so far (model, stream...), for a record written on failure."""
    policy_revision: str | None = None
    """The policy revision last seen when the request arrived (None while OPA is down)."""
    audit_id: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    """Added to the response whatever renders it (e.g. ``retry-after`` on a 429)."""
    on_finish: list[Callable[[], None]] = field(default_factory=list)
    """Run when the response is over (streams included): releases per-caller slots."""
    admitted: bool = False
    """One request of the caller's limits is taken (``gateway.http.admission``)."""

    def record_fields(self) -> dict[str, Any]:
        """The fields every request record of this request starts with."""
        principal = self.principal
        return {
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "endpoint": self.endpoint,
            "subject": principal.subject if principal else None,
            "groups": list(principal.groups) if principal else [],
            "key_id": principal.key_id if principal else None,
            "client_address": self.client_address,
            "user_agent": self.user_agent,
            "policy_revision": self.policy_revision,
        }

    def finish(self) -> None:
        callbacks, self.on_finish = self.on_finish, []
        for callback in callbacks:
            callback()


_CURRENT: ContextVar[RequestScope | None] = ContextVar("gateway_request", default=None)


def current_request() -> RequestScope | None:
    return _CURRENT.get()


@contextmanager
def bound(scope: RequestScope) -> Iterator[RequestScope]:
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)


def _of_this_request(kind: str, fields: dict[str, Any]) -> RequestScope | None:
    scope = _CURRENT.get()
    if scope is not None and kind in REQUEST_KINDS and fields.get("request_id") == scope.request_id:
        return scope
    return None


def with_request_fields(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A request-level record of the current request, completed with what the scope
    knows (client address, caller's request id, policy revision...); explicit non-null
    fields win."""
    scope = _of_this_request(kind, fields)
    if scope is None:
        return fields
    common = {k: v for k, v in scope.record_fields().items() if v is not None}
    return {**common, **{k: v for k, v in fields.items() if v is not None or k not in common}}


def note_record(kind: str, fields: dict[str, Any], audit_id: str) -> None:
    """Called by the audit log after a durable append: remember the request's record."""
    scope = _of_this_request(kind, fields)
    if scope is not None and scope.audit_id is None:
        scope.audit_id = audit_id


def safe_address(value: object) -> str | None:
    """An IP address in canonical form, or None: never caller-chosen text."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        return None

"""Every request: a gateway request id, one canonical log line, and its audit record.

Wraps the whole application (``wrap_app``), so router 404/405 responses get an
``x-request-id`` and a log line too. The id is always the gateway's own; a well-formed
``x-request-id`` from the caller is kept as ``client_request_id`` (callers may repeat
or share theirs, so it can never key a record).

An authenticated request whose handler wrote no request record (a bad body, a policy or
dependency failure, a bug) gets one here, written before the response starts, with what
the scope knows and the status and error code of the response; ``x-gateway-audit-id``
then names it. If even that record cannot be written, a successful response becomes a
503: nothing is served unrecorded.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import structlog
from litestar import Litestar
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from gateway.errors import DependencyUnavailable, openai_error
from gateway.request_scope import RequestScope, bound, safe_address

if TYPE_CHECKING:
    from gateway.services import Services

log = structlog.get_logger("gateway.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MAX_ERROR_BODY = 65_536


def wrap_app(app: Litestar) -> Litestar:
    """Put the middleware around Litestar's whole handler (router errors included)."""
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler)
    return app


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        await self._handle_http(scope, receive, send)

    async def _handle_http(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        headers = Headers.from_scope(scope)
        incoming = headers.get("x-request-id", "")
        client = scope.get("client")
        request = RequestScope(
            request_id=f"req_{uuid.uuid4().hex}",
            method=scope["method"],
            path=scope["path"],
            client_address=safe_address(client[0]) if client else None,
            client_request_id=incoming if _VALID_REQUEST_ID.fullmatch(incoming) else None,
            user_agent=headers.get("user-agent"),
        )
        scope.setdefault("state", {})["request_id"] = request.request_id
        services = _services(scope)
        if services is not None:
            request.policy_revision = services.decisions.revision.known
        responder = _Responder(request, send, services)
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        try:
            with bound(request):
                await self.app(scope, receive, responder.send)
                await responder.settle()
        finally:
            request.finish()
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=responder.status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client_address=request.client_address,
                client_request_id=request.client_request_id,
                subject=request.principal.subject if request.principal else None,
                audit_id=request.audit_id,
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _services(scope: HTTPScope) -> Services | None:
    """The running app's services (None before the lifespan opened them)."""
    app = scope.get("app")
    services: Services | None = getattr(getattr(app, "state", None), "services", None)
    return services


class _Responder:
    """The ``send`` the app sees: adds our headers, records a request that has none."""

    def __init__(self, request: RequestScope, send: Send, services: Services | None) -> None:
        self._request = request
        self._send = send
        self._services = services
        self.status = 500
        self._held: list[Message] = []
        self._holding = False
        self._swallow = False
        self.started = False

    def _needs_record(self) -> bool:
        return self._request.principal is not None and self._request.audit_id is None

    async def send(self, message: Message) -> None:
        if self._swallow:
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self._needs_record() and self._services is not None:
                if self.status >= 400:
                    # Hold the (small) error body: its code goes into the record.
                    self._holding = True
                    self._held.append(message)
                    return
                if not await self._record(None):
                    await self._refuse()
                    return
            await self._start(message)
            return
        if self._holding:
            self._held.append(message)
            if not message.get("more_body", False) or self._held_size() > _MAX_ERROR_BODY:
                await self._release()
            return
        await self._send(message)

    async def settle(self) -> None:
        """The app returned: flush anything still held; record a request that never
        answered (an authenticated request must leave a record even then)."""
        if self._holding:
            await self._release()
        elif not self.started and self._needs_record() and self._services is not None:
            await self._record(None)

    def _held_size(self) -> int:
        return sum(len(_body(m)) for m in self._held[1:])

    async def _release(self) -> None:
        self._holding = False
        start, body = self._held[0], self._held[1:]
        self._held = []
        await self._record(b"".join(_body(m) for m in body))
        await self._start(start)
        for message in body:
            await self._send(message)

    async def _start(self, start: Message) -> None:
        self.started = True
        message: dict[str, Any] = dict(start)
        extra = {"x-request-id": self._request.request_id, **self._request.response_headers}
        if self._request.audit_id:
            extra["x-gateway-audit-id"] = self._request.audit_id
        present = {name.lower() for name, _ in message.get("headers", [])}
        headers = [
            *message.get("headers", []),
            *((k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present),
        ]
        await self._send(cast("Message", {**message, "headers": headers}))

    async def _record(self, error_body: bytes | None) -> bool:
        request, services = self._request, self._services
        assert services is not None
        fields = {
            **request.record_fields(),
            "endpoint": request.endpoint or f"{request.method} {request.path}",
            "policy_revision": request.policy_revision or services.decisions.revision.known,
            **request.facts,
            "status": self.status,
            "allowed": self.status < 400,
        }
        if error_body is not None:
            fields.update(_error_fields(error_body))
        try:
            await services.audit.append("request", fields)
        except (DependencyUnavailable, ValueError) as exc:
            log.error(  # noqa: TRY400 - the cause is known; no traceback wanted
                "audit_request_record_lost", status=self.status, error=type(exc).__name__
            )
            return False
        return True

    async def _refuse(self) -> None:
        """A success that could not be recorded is not served."""
        self._swallow = True
        self.status = 503
        body = json.dumps(
            openai_error(
                "audit unavailable: cannot write the audit record",
                "service_unavailable",
                code="dependency_unavailable",
            )
        ).encode()
        await self._start(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _body(message: Message) -> bytes:
    body = cast("dict[str, Any]", message).get("body", b"")
    return body if isinstance(body, bytes) else b""


def _error_fields(body: bytes) -> dict[str, Any]:
    try:
        error = json.loads(body)["error"]
        return {"refused": error.get("code") or error.get("type")}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"refused": None}

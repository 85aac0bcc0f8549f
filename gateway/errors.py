"""The gateway's one error hierarchy; each class knows its HTTP status and OpenAI type.

    GatewayError                      500 server_error
    ├── BadRequest                    400 invalid_request_error
    │   └── PayloadTooLarge           413 invalid_request_error
    ├── AuthenticationFailed          401 authentication_error
    ├── PolicyDenied                  403 permission_error
    ├── NotFound                      404 not_found_error
    ├── DependencyUnavailable         503 service_unavailable  (OPA, Elasticsearch, audit)
    ├── PolicyUntranslatable          503 service_unavailable  (a filter we cannot enforce)
    └── UpstreamError                 502 upstream_error        (gateway-made: timeout, drop...)
        └── UpstreamRelayedError      the upstream's own status and error, as it sent them

Adapters translate foreign exceptions into these with ``raise ... from exc``; the HTTP
layer renders them in exactly one place (``gateway.http.errors``). Messages must never
carry secrets or PII: they are shown to callers and logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class GatewayError(Exception):
    """Base class: an error the gateway reports to its caller in OpenAI's error shape."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        # Response headers the error carries to the caller (e.g. retry-after on a 429).
        self.headers: dict[str, str] = dict(headers or {})
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]

    def to_openai(self) -> dict[str, Any]:
        """The body OpenAI clients expect: ``{"error": {message, type, param, code}}``."""
        return openai_error(self.message, self.error_type, param=self.param, code=self.code)


class BadRequest(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"


class PayloadTooLarge(BadRequest):
    status_code = 413
    default_code = "request_too_large"


class AuthenticationFailed(GatewayError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


DENIED_BY_POLICY = "Request denied by policy"
"""How every policy refusal starts, whichever endpoint refuses."""


class PolicyDenied(GatewayError):
    status_code = 403
    error_type = "permission_error"
    default_code = "policy_denied"

    @classmethod
    def because(cls, reasons: Sequence[str]) -> PolicyDenied:
        """The policy's refusal with its reasons: ``Request denied by policy: a; b``."""
        return cls(f"{DENIED_BY_POLICY}: " + "; ".join(reasons))


class NotFound(GatewayError):
    status_code = 404
    error_type = "not_found_error"


class DependencyUnavailable(GatewayError):
    """A dependency the request needs (OPA, Elasticsearch, the audit log) cannot answer."""

    status_code = 503
    error_type = "service_unavailable"
    default_code = "dependency_unavailable"

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency} unavailable: {message}")
        self.dependency = dependency


class PolicyUntranslatable(GatewayError):
    """OPA's compiled retrieval filter holds something the translator cannot enforce exactly.

    The request is refused rather than served with a weaker filter. ``detail`` says why
    (policy file, line, construct) for the operator's logs and ``gateway explain``; the
    caller gets only ``message``.
    """

    status_code = 503
    error_type = "service_unavailable"
    default_code = "policy_untranslatable"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


class UpstreamError(GatewayError):
    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"


class UpstreamRelayedError(UpstreamError):
    """An OpenAI-shaped error the upstream answered, relayed as it sent it.

    Status, ``type``, ``param``, ``code`` and ``message`` are the upstream's (a 400
    ``context_length_exceeded`` stays one; a 429 keeps ``rate_limit_exceeded``), and so
    are its ``retry-after`` and ``x-ratelimit-*`` headers.
    """

    def __init__(
        self,
        status_code: int,
        error: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        message = error.get("message")
        param, code, kind = error.get("param"), error.get("code"), error.get("type")
        super().__init__(
            str(message) if message else f"Upstream returned HTTP {status_code}.",
            param=str(param) if param is not None else None,
            status_code=status_code,
            headers=headers,
        )
        # Null stays null: the upstream's code is relayed as it is, not replaced by ours.
        self.code = str(code) if code is not None else None
        self.upstream_type = str(kind) if kind else "upstream_error"

    def to_openai(self) -> dict[str, Any]:
        return openai_error(self.message, self.upstream_type, param=self.param, code=self.code)


def openai_error(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}

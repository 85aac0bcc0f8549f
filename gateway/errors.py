"""The gateway's one error hierarchy; each class knows its HTTP status and OpenAI type.

    GatewayError                      500 server_error
    ├── BadRequest                    400 invalid_request_error
    │   └── PayloadTooLarge           413 invalid_request_error
    ├── AuthenticationFailed          401 authentication_error
    ├── PolicyDenied                  403 permission_error
    ├── NotFound                      404 not_found_error
    ├── DependencyUnavailable         503 service_unavailable  (OPA, Elasticsearch, audit)
    ├── PolicyUntranslatable          503 service_unavailable  (a filter we cannot enforce)
    └── UpstreamError                 502 upstream_error        (or the upstream's 4xx/429)

Adapters translate foreign exceptions into these with ``raise ... from exc``; the HTTP
layer renders them in exactly one place (``gateway.http.errors``). Messages must never
carry secrets or PII: they are shown to callers and logged.
"""

from __future__ import annotations

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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
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


class PolicyDenied(GatewayError):
    status_code = 403
    error_type = "permission_error"
    default_code = "policy_denied"


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


def openai_error(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}

"""The one place where errors become HTTP responses, in OpenAI's error shape."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from gateway.errors import GatewayError, UpstreamError, openai_error

log = structlog.get_logger("gateway.http")

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def gateway_error_handler(_request: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    log.info(
        "request_refused",
        status=exc.status_code,
        error_type=exc.error_type,
        code=exc.code,
        # Upstream messages may echo the prompt (some servers quote their input).
        reason=None if isinstance(exc, UpstreamError) else exc.message,
    )
    return Response(exc.to_openai(), status_code=exc.status_code, headers=exc.headers or None)


def http_exception_handler(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code = "request_too_large" if status == 413 else None
    error_type = _TYPE_BY_STATUS.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    message = str(exc.detail) if exc.detail else "Request failed."
    return Response(
        openai_error(message, error_type, code=code),
        status_code=status,
        headers=exc.headers or None,
    )


def unexpected_error_handler(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The message is generic on purpose: exception text may hold request data.
    log.error("unhandled_error", error=type(exc).__name__, exc_info=exc)
    return Response(openai_error("Internal gateway error.", "server_error"), status_code=500)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GatewayError: gateway_error_handler,
    HTTPException: http_exception_handler,
    Exception: unexpected_error_handler,
}

import pytest

from gateway.errors import (
    DENIED_BY_POLICY,
    AuthenticationFailed,
    BadRequest,
    DependencyUnavailable,
    GatewayError,
    PayloadTooLarge,
    PolicyDenied,
    UpstreamError,
)


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (BadRequest("m"), 400, "invalid_request_error"),
        (PayloadTooLarge("m"), 413, "invalid_request_error"),
        (AuthenticationFailed("m"), 401, "authentication_error"),
        (PolicyDenied("m"), 403, "permission_error"),
        (DependencyUnavailable("opa", "down"), 503, "service_unavailable"),
        (UpstreamError("m"), 502, "upstream_error"),
        (UpstreamError("m", status_code=429), 429, "upstream_error"),
    ],
)
def test_errors_render_in_openai_shape(error: GatewayError, status: int, error_type: str) -> None:
    """Every gateway error carries its status and renders OpenAI's four error fields."""
    body = error.to_openai()
    assert error.status_code == status
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == error_type


def test_status_override_does_not_leak_to_class() -> None:
    """Overriding the status on one instance leaves the class default alone."""
    UpstreamError("m", status_code=429)
    assert UpstreamError("m").status_code == 502


def test_dependency_unavailable_names_the_dependency() -> None:
    """A 503 says which dependency failed."""
    error = DependencyUnavailable("elasticsearch", "ConnectionError")
    assert error.dependency == "elasticsearch"
    assert error.message.startswith("elasticsearch unavailable")


def test_policy_denied_because_names_every_reason_after_the_shared_prefix() -> None:
    """A policy refusal reads "Request denied by policy: a; b" on every endpoint."""
    error = PolicyDenied.because(("model not allowed", "outside hours"))
    assert error.message == "Request denied by policy: model not allowed; outside hours"
    assert error.message.startswith(DENIED_BY_POLICY)
    assert (error.status_code, error.code) == (403, "policy_denied")

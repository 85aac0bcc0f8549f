"""The one handler that turns GatewayErrors into OpenAI-shaped responses."""

from structlog.testing import capture_logs

from gateway.errors import UpstreamError
from gateway.http.errors import gateway_error_handler


def test_upstream_error_text_is_not_logged() -> None:
    """An upstream message (which may quote the prompt) is relayed, not logged."""
    with capture_logs() as logs:
        response = gateway_error_handler(None, UpstreamError("input was: secret prompt text"))  # type: ignore[arg-type]
    assert response.status_code == 502
    assert "secret prompt text" not in repr(logs)

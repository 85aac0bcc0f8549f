"""The route table: every endpoint outside a short public list is behind the caller guard."""

from __future__ import annotations

from pathlib import Path

from gateway.app import create_app
from gateway.http.admission import caller_limits
from gateway.settings import load_settings

# Need no key: liveness, readiness, metrics, the OpenAPI document (and the not-found
# routes of Litestar's OpenAPI router), and the review pages (their own sign-in form and
# session).
PUBLIC = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/admin/review")
OPENAPI_ROUTER = {"/", "/{path:str}"}


def test_every_non_public_route_authenticates_and_is_limited(tmp_path: Path) -> None:
    """Each handler is either public or guarded by ``caller_limits``, so a new endpoint
    added to the authenticated router gets authentication and the caller's limits."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: []\n")
    settings = load_settings(
        upstream_base_url="http://127.0.0.1:9", audit_dir=tmp_path, api_keys_file=keys
    )
    app = create_app(settings)
    guarded, public = set(), set()
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[attr-defined]
            if route.path.startswith(PUBLIC) or route.path in OPENAPI_ROUTER:
                public.add(route.path)
                continue
            assert caller_limits in handler.resolve_guards(), route.path
            guarded.add(route.path)
    assert {"/v1/chat/completions", "/v1/models", "/v1/files", "/admin/audit/records"} <= guarded
    assert "/v1/fine_tuning/jobs" in guarded
    assert {"/healthz", "/readyz", "/openapi.json"} <= public

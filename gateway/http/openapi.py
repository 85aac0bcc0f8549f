"""The OpenAPI document, served unauthenticated at ``GET /openapi.json``.

Litestar generates it from the route handlers. Handlers that read their body themselves
(chat, so that unknown fields pass through untouched) get their request body schema
added here, from the same pydantic types that validate it (``gateway.chat_schema``),
so the document and the validation cannot disagree. Only JSON is served: no UI page,
which would load scripts from a CDN (the gateway makes no such calls).

Unauthenticated, like OpenAI's own published specification: it describes request and
response shapes, never data, keys or policy, and every route it names still requires a
key. Schemathesis fuzzes the running gateway from it (tests/e2e/test_openapi_fuzz.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from pydantic import TypeAdapter

from gateway.chat_schema import chat_request_type

OPENAPI_PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"


class _GatewayJson(JsonRenderPlugin):
    """Litestar's JSON plugin, plus the request bodies it cannot see."""

    def __init__(self) -> None:
        super().__init__(path=OPENAPI_PATH)
        self._bodies: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._bodies is None:
            self._bodies = TypeAdapter(chat_request_type()).json_schema(ref_template=_REF)
        bodies = dict(self._bodies)
        definitions = bodies.pop("$defs", {})
        components = openapi_schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions)
        components["ChatCompletionRequest"] = bodies
        chat = openapi_schema.get("paths", {}).get("/v1/chat/completions", {}).get("post")
        if chat is not None:
            chat["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": _REF.format(model="ChatCompletionRequest")}
                    }
                },
            }
        return super().render(request, openapi_schema)


def openapi_config(version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Governance gateway",
        version=version,
        description="OpenAI-compatible chat, models, files and fine-tuning, governed.",
        path="/",
        render_plugins=[_GatewayJson()],
        use_handler_docstrings=True,
        # Gateway API keys and JWTs alike are bearer tokens (health and metrics need none).
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"bearer": []}],
    )

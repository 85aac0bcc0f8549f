"""The upstream's files and fine-tuning endpoints (multipart upload, GET, POST, DELETE).

A second small httpx adapter next to ``gateway.upstream`` (whose client speaks JSON POST
and GET only); it authenticates with the gateway's own key, and httpx errors become
GatewayErrors here.
"""

from __future__ import annotations

import json
from typing import Any, Self

import httpx

from gateway.errors import UpstreamError
from gateway.upstream import (
    translate_transport_error,
    upstream_http_client,
    upstream_status_error,
)


class FinetuneUpstream:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = upstream_http_client(
            base_url,
            api_key,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def upload(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        files = {"file": (filename, content, "application/octet-stream")}
        return await self._send("POST", "files", files=files, data={"purpose": purpose})

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return await self._send("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._send("POST", path, json=body if body is not None else {})

    async def delete(self, path: str) -> dict[str, Any]:
        return await self._send("DELETE", path)

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc) from exc
        if response.status_code >= 400:
            raise upstream_status_error(response.status_code, response.content)
        try:
            payload: Any = json.loads(response.content)
        except ValueError as exc:
            raise UpstreamError("The upstream answered with invalid JSON.") from exc
        if not isinstance(payload, dict):
            raise UpstreamError("The upstream answered with an unexpected body.")
        return payload

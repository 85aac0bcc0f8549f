"""The upstream's files and fine-tuning endpoints (multipart upload, GET, POST, DELETE).

The endpoints' JSON shapes over ``gateway.upstream.UpstreamClient.request``: one client,
one credential and one error map (``gateway.upstream.translate_transport_error``) for all
upstream traffic.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from gateway.errors import UpstreamError
from gateway.upstream import UpstreamClient

_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}\Z")


def upstream_filename(file_id: str, filename: str) -> str:
    """The name a stored file gets upstream: the gateway's file id and the caller's
    extension (which the upstream may check: ``.jsonl`` for training). The caller's
    name is not scanned, so it is never forwarded: 255 characters of it could carry a
    governed passage past the scan. Callers still see their name (the registry's)."""
    found = _EXTENSION.search(filename)
    return file_id + (found.group(0).lower() if found else "")


class FinetuneUpstream:
    """Uses the chat adapter's client, which the lifespan owns and closes."""

    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def upload(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        files = {"file": (filename, content, "application/octet-stream")}
        return await self._send("POST", "files", files=files, data={"purpose": purpose})

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return await self._send("GET", path, params=params)

    async def get_bytes(self, path: str) -> tuple[bytes, str]:
        """A raw body (a file's content) and its content type."""
        response = await self._request("GET", path)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._send("POST", path, json=body if body is not None else {})

    async def delete(self, path: str) -> dict[str, Any]:
        return await self._send("DELETE", path)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.request(method, path, **kwargs)

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, path, **kwargs)
        try:
            payload: Any = json.loads(response.content)
        except ValueError as exc:
            raise UpstreamError("The upstream answered with invalid JSON.") from exc
        if not isinstance(payload, dict):
            raise UpstreamError("The upstream answered with an unexpected body.")
        return payload

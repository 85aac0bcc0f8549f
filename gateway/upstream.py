"""The upstream adapter: a pooled httpx client to the OpenAI-compatible model API.

The gateway authenticates with its own key; caller credentials never pass through.
httpx errors become GatewayErrors here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Self

import httpx

from gateway.errors import DependencyUnavailable, GatewayError, UpstreamError

# Headers we forward from the upstream response to the caller (everything else is ours).
PASSTHROUGH_RESPONSE_HEADERS = (
    "content-type",
    "openai-processing-ms",
    "x-ratelimit-limit-requests",
)


@dataclass
class UpstreamResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass
class UpstreamStream:
    status_code: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


class UpstreamClient:
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

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled client, for adapters of other upstream endpoints (files, jobs)."""
        return self._client

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        request = self._client.build_request(
            "POST", path, content=body, headers={"content-type": "application/json"}
        )
        try:
            response = await self._client.send(request)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc) from exc
        if response.status_code >= 400:
            raise upstream_status_error(response.status_code, response.content)
        return UpstreamResponse(response.status_code, _passthrough(response), response.content)

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream:
        """Open a streaming POST; the returned iterator closes the connection when done."""
        request = self._client.build_request(
            "POST", path, content=body, headers={"content-type": "application/json"}
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc) from exc
        if response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            raise upstream_status_error(response.status_code, content)
        return UpstreamStream(response.status_code, _passthrough(response), _iterate(response))

    async def get(self, path: str) -> UpstreamResponse:
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc) from exc
        if response.status_code >= 400:
            raise upstream_status_error(response.status_code, response.content)
        return UpstreamResponse(response.status_code, _passthrough(response), response.content)


def upstream_http_client(
    base_url: str,
    api_key: str | None,
    *,
    timeout_s: float,
    connect_timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled client on the upstream's base URL, with the gateway's own credential.

    Retries only connect errors (nothing was sent yet), through the transport.
    """
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        transport=transport or httpx.AsyncHTTPTransport(retries=1),
    )


async def _iterate(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        raise translate_transport_error(exc) from exc
    finally:
        await response.aclose()


def _passthrough(response: httpx.Response) -> dict[str, str]:
    return {k: response.headers[k] for k in PASSTHROUGH_RESPONSE_HEADERS if k in response.headers}


def translate_transport_error(exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(
            "The upstream model API timed out.", code="upstream_timeout", status_code=504
        )
    if isinstance(exc, httpx.ConnectError):
        return DependencyUnavailable("upstream", "cannot connect to the model API")
    return UpstreamError(f"Upstream transport error: {type(exc).__name__}.")


def upstream_status_error(status: int, content: bytes) -> UpstreamError:
    """Map an upstream HTTP error: client errors keep their status, the rest become 502.

    401/403 from the upstream concern the gateway's own credential, not the caller's,
    so they are reported as a gateway-side failure.
    """
    message = _upstream_message(content) or f"Upstream returned HTTP {status}."
    if status in {400, 404, 409, 422, 429}:
        return UpstreamError(message, status_code=status, code="upstream_rejected")
    if status in {401, 403}:
        return UpstreamError(
            "The gateway's upstream credential was rejected.", status_code=502, code="upstream_auth"
        )
    return UpstreamError(message, status_code=502, code="upstream_error")


def _upstream_message(content: bytes) -> str | None:
    try:
        payload: Any = json.loads(content)
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        message = payload["error"].get("message")
        return str(message) if message else None
    return None

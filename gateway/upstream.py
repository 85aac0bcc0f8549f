"""The upstream adapter: pooled clients to the OpenAI-compatible model API.

Chat completions, the hot path, go over aiohttp: less per-call overhead than httpx
(tests/bench/README.md has the figures). The files and fine-tuning
endpoints use the httpx client (``UpstreamClient.request``; multipart, rarely called).
The gateway authenticates with its own key; caller credentials never pass through.
Transport errors of either library become GatewayErrors here and nowhere else.
"""

from __future__ import annotations

import functools
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
import httpx
from multidict import CIMultiDictProxy

from gateway.errors import (
    DependencyUnavailable,
    GatewayError,
    UpstreamError,
    UpstreamRelayedError,
)

# Headers we forward from the upstream response to the caller (everything else is ours):
# OpenAI's rate-limit family, so SDKs back off as they would against the upstream.
PASSTHROUGH_RESPONSE_HEADERS = (
    "content-type",
    "openai-processing-ms",
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)
# Of those, what an error relays (its body is ours to render, so not content-type).
_ERROR_HEADERS = tuple(h for h in PASSTHROUGH_RESPONSE_HEADERS if h != "content-type")
# identity: the body is relayed without its content-encoding header, so it must arrive
# uncompressed (aiohttp would otherwise ask for gzip and deflate).
_JSON = {"content-type": "application/json", "accept-encoding": "identity"}


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
    # Closes the upstream connection now (cancelling the call), wherever ``chunks`` is.
    close: Callable[[], None] = lambda: None


class UpstreamClient:
    """Opened and closed by the app lifespan (the aiohttp session needs a running loop)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # sock_connect bounds the TCP connect; connect (which includes waiting for a free
        # pooled connection) and each read get the full timeout, as httpx's pool did.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=connect_timeout_s, sock_read=timeout_s
        )
        # HTTP(S)_PROXY / NO_PROXY, resolved once (aiohttp's trust_env would read them,
        # and ~/.netrc, on every request).
        self._proxy = _environment_proxy(self._base_url)
        self._session: aiohttp.ClientSession | None = None
        # Files and fine-tuning jobs only: built on first use, since building it loads
        # a CA bundle (~0.1 CPU-s of every start-up otherwise).
        self._make_client = functools.partial(
            upstream_http_client,
            base_url,
            api_key,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
        )
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            headers=self._auth,
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=200, limit_per_host=200),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._client is not None:
            await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any other upstream call (files, fine-tuning jobs: multipart, GET, DELETE) over
        the httpx client; redirects are neither followed nor relayed."""
        if self._client is None:
            self._client = self._make_client()
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc) from exc
        if response.status_code >= 300:
            raise upstream_status_error(response.status_code, response.content)
        return response

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        response = await self._post(path, body)
        content = await _read_all(response)
        if response.status >= 300:
            raise upstream_status_error(response.status, content, response.headers)
        return UpstreamResponse(response.status, _passthrough(response.headers), content)

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream:
        """Open a streaming POST; the returned iterator closes the connection when done."""
        response = await self._post(path, body)
        if response.status >= 300:
            content = await _read_all(response)
            raise upstream_status_error(response.status, content, response.headers)
        return UpstreamStream(
            response.status, _passthrough(response.headers), _iterate(response), response.close
        )

    async def _post(self, path: str, body: bytes) -> aiohttp.ClientResponse:
        """POST, retried once only if the connection could not be made (nothing was sent)."""
        if self._session is None:
            raise RuntimeError("UpstreamClient used outside its async context")
        url = self._base_url + path
        for attempt in (1, 2):
            try:
                # Never follow a redirect: it would re-send the prompt to another origin.
                return await self._session.post(
                    url, data=body, headers=_JSON, allow_redirects=False, proxy=self._proxy
                )
            except aiohttp.ClientConnectorError as exc:
                if attempt == 2:
                    raise translate_transport_error(exc) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise translate_transport_error(exc) from exc
        raise AssertionError("unreachable")


async def _read_all(response: aiohttp.ClientResponse) -> bytes:
    """The whole body; the connection goes back to the pool (or is closed) either way."""
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise translate_transport_error(exc) from exc
    finally:
        response.release()


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, as httpx would use it; None: direct."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


async def _iterate(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    completed = False
    try:
        async for chunk in response.content.iter_any():
            yield chunk
        completed = True
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise translate_transport_error(exc) from exc
    finally:
        # Finished: the connection goes back to the pool. Cut short (the caller went
        # away, an error): closing it cancels the upstream call.
        if completed:
            response.release()
        else:
            response.close()


def _passthrough(headers: CIMultiDictProxy[str] | httpx.Headers) -> dict[str, str]:
    return {k: headers[k] for k in PASSTHROUGH_RESPONSE_HEADERS if k in headers}


def upstream_http_client(
    base_url: str,
    api_key: str | None,
    *,
    timeout_s: float,
    connect_timeout_s: float,
) -> httpx.AsyncClient:
    """A pooled client on the upstream's base URL, with the gateway's own credential.

    Retries only connect errors (nothing was sent yet), through the transport.
    """
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        transport=httpx.AsyncHTTPTransport(retries=1),
    )


def translate_transport_error(exc: BaseException) -> GatewayError:
    """The one map from either library's transport errors (aiohttp for chat, httpx for
    files and jobs) to what the caller sees."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):  # aiohttp's subclass it
        return UpstreamError(
            "The upstream model API timed out.", code="upstream_timeout", status_code=504
        )
    if isinstance(exc, aiohttp.ClientConnectorError | httpx.ConnectError):
        return DependencyUnavailable("upstream", "cannot connect to the model API")
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | httpx.RemoteProtocolError
        | httpx.ReadError,
    ):
        return UpstreamError(
            "The upstream model API closed the connection before its answer was complete.",
            code="upstream_disconnected",
        )
    return UpstreamError(f"Upstream transport error: {type(exc).__name__}.")


def upstream_status_error(
    status: int,
    content: bytes,
    headers: CIMultiDictProxy[str] | httpx.Headers | None = None,
) -> UpstreamError:
    """The upstream's error as the caller should see it.

    An OpenAI-shaped error body (``{"error": {"message", "type", "param", "code"}}``) on
    a 4xx/5xx is relayed as it is: status, fields, ``retry-after`` and ``x-ratelimit-*``.
    Otherwise the gateway makes one: client errors keep their status
    (``upstream_rejected``), the rest become 502 (``upstream_error``). 401/403 concern the
    gateway's own upstream credential, not the caller's: 502 ``upstream_auth``, never
    relayed (the message may describe the gateway's key).
    """
    relayed = {k: headers[k] for k in _ERROR_HEADERS if k in headers} if headers else {}
    if status in {401, 403}:
        return UpstreamError(
            "The gateway's upstream credential was rejected.", status_code=502, code="upstream_auth"
        )
    error = _upstream_error(content)
    if error is not None and 400 <= status <= 599:
        return UpstreamRelayedError(status, error, relayed)
    message = f"Upstream returned HTTP {status}."
    if status in {400, 404, 409, 422, 429}:
        return UpstreamError(message, status_code=status, code="upstream_rejected", headers=relayed)
    return UpstreamError(message, status_code=502, code="upstream_error", headers=relayed)


def _upstream_error(content: bytes) -> dict[str, Any] | None:
    """The ``error`` object of an OpenAI-shaped error body; None for anything else."""
    try:
        payload: Any = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error
    return None

"""The upstream port for Responses: records who owns each response id it relays.

Wraps the pipeline's upstream (``gateway.pipeline.ports.Upstream``): a whole answer's
``id``, or a stream's ``response.created`` event, is recorded as the caller's (awaited)
before the caller sees it, with the SHA-256 of the upstream body (the request record's
``upstream_body_sha256``), which links a response id to its audit record, and with the
gateway file ids its conversation holds (``files``, see ``gateway.responses.owners``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from gateway.hashing import sha256_hex
from gateway.pipeline.ports import Upstream
from gateway.responses.owners import Owners
from gateway.responses.restore import ResponseEventRelay
from gateway.upstream import UpstreamResponse, UpstreamStream


@dataclass(frozen=True)
class OwnedUpstream:
    upstream: Upstream
    owners: Owners
    owner: str
    files: tuple[str, ...] = ()
    """Gateway file ids the conversation holds: named by this request or held before."""

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        response = await self.upstream.post_json(path, body)
        try:
            payload = json.loads(response.body)
        except ValueError:
            return response
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            await self._record(payload["id"], body)
        return response

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream:
        stream = await self.upstream.stream_json(path, body)
        return replace(stream, chunks=self._recorded(stream.chunks, body))

    async def _recorded(self, chunks: AsyncIterator[bytes], body: bytes) -> AsyncIterator[bytes]:
        """The relay learns the id before it passes the event on that carries it; the
        record is awaited before that event is yielded."""
        events = ResponseEventRelay(None, lambda _id: None, id_only=True)
        recorded = False
        async for chunk in events.process(chunks):
            if not recorded and events.facts.response_id is not None:
                await self._record(events.facts.response_id, body)
                recorded = True
            yield chunk

    async def _record(self, response_id: str, body: bytes) -> None:
        await self.owners.record(self.owner, response_id, sha256_hex(body), self.files)

"""The upstream port for Responses: records who owns each response id it relays.

Wraps the pipeline's upstream (``gateway.pipeline.ports.Upstream``): a whole answer's
``id``, or a stream's ``response.created`` event, is recorded as the caller's before the
caller sees it, with the SHA-256 of the upstream body (the request record's
``upstream_body_sha256``), which links a response id to its audit record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from gateway.hashing import sha256_hex
from gateway.pipeline.ports import Upstream
from gateway.responses.owners import ResponseOwners
from gateway.responses.restore import ResponseEventRelay
from gateway.upstream import UpstreamResponse, UpstreamStream


@dataclass(frozen=True)
class OwnedUpstream:
    upstream: Upstream
    owners: ResponseOwners
    owner: str

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        response = await self.upstream.post_json(path, body)
        try:
            payload = json.loads(response.body)
        except ValueError:
            return response
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            self._record(payload["id"], body)
        return response

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream:
        stream = await self.upstream.stream_json(path, body)
        events = ResponseEventRelay(
            None, lambda response_id: self._record(response_id, body), id_only=True
        )
        return replace(stream, chunks=events.process(stream.chunks))

    def _record(self, response_id: str, body: bytes) -> None:
        self.owners.record(self.owner, response_id, sha256_hex(body))

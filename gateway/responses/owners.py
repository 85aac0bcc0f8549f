"""Which caller owns which response id the gateway relayed: an Elasticsearch index.

The upstream stores responses for the gateway's one credential and knows nothing of
its callers, so ``GET``/``DELETE /v1/responses/{id}`` and ``previous_response_id`` are
allowed only for ids this registry names as the caller's. It lives in the shared engine
(``<prefix>-responses-v1``), so a response created through one replica is read, deleted
or continued through any other.

- One document per response id (its ``_id`` is the SHA-256 of the id, so no id the
  upstream or a caller sends can be too long or odd for Elasticsearch), written
  create-only: the first owner keeps it and is never overwritten.
- ``owns`` is a realtime GET by id, which sees every acknowledged write on any replica
  without a refresh; so writes do not force one (a refresh per relayed response would
  cost every ``POST /v1/responses`` a new segment). Nothing here searches the index.
- ``forget`` deletes the caller's own entry only, conditioned on the version it read.
- Each entry lists the gateway file ids its conversation holds (``files``): the files its
  request named and those its previous response held, so a continuation re-checks them
  all without walking the chain. An entry written before the field existed holds none.

Elasticsearch errors become DependencyUnavailable (``gateway.elastic.elasticsearch_errors``):
a registry that cannot answer refuses the request, never shows another caller's response.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, Self

from elasticsearch import AsyncElasticsearch

from gateway.elastic import (
    IndexNotFound,
    VersionConflict,
    create_index_if_missing,
    elasticsearch_errors,
)
from gateway.errors import DependencyUnavailable, GatewayError
from gateway.hashing import sha256_hex

MAPPING_VERSION = 1
_DEPENDENCY = "responses registry"


class Owners(Protocol):
    """What the Responses endpoints need of the registry (``ResponseOwners``)."""

    async def record(
        self,
        owner: str,
        response_id: str,
        body_sha256: str | None = None,
        files: Sequence[str] = (),
    ) -> None: ...

    async def owns(self, owner: str, response_id: str) -> bool: ...

    async def held(self, owner: str, response_id: str) -> tuple[str, ...] | None: ...

    async def forget(self, owner: str, response_id: str) -> None: ...


class OwnerConflict(DependencyUnavailable):
    """The upstream relayed a response id already recorded for another caller."""

    def __init__(self) -> None:
        super().__init__(_DEPENDENCY, "the response id is recorded for another caller")


class _Stored(NamedTuple):
    owner: str
    files: tuple[str, ...]
    seq_no: int
    primary_term: int


def owners_mapping() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "response_id": keyword,
            "owner": keyword,
            "created_at": {"type": "long"},
            "upstream_body_sha256": keyword,
            "files": {"type": "keyword", "index": False},
        },
    }


class ResponseOwners:
    """Response ids per caller, over the lifespan's Elasticsearch client.

    Entered by the lifespan: creates the index if Elasticsearch answers (otherwise the
    first ``record`` does; until then reads find nothing and writes fail closed)."""

    def __init__(self, client: AsyncElasticsearch, index_prefix: str) -> None:
        self._client = client
        self.index = f"{index_prefix}-responses-v{MAPPING_VERSION}"
        self._index_ready = False

    async def __aenter__(self) -> Self:
        with contextlib.suppress(GatewayError):
            await self.ensure_index()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """The client is the lifespan's; nothing of its own to close."""

    async def ensure_index(self) -> None:
        """Create the index if it is missing (idempotent; replicas may race on it)."""
        if self._index_ready:
            return
        await create_index_if_missing(self._client, self.index, owners_mapping())
        # Fields added since an index was created (the mapping is strict): added in place.
        with elasticsearch_errors(f"cannot update the mapping of {self.index}"):
            await self._client.indices.put_mapping(
                index=self.index, properties=owners_mapping()["properties"]
            )
        self._index_ready = True

    async def record(
        self,
        owner: str,
        response_id: str,
        body_sha256: str | None = None,
        files: Sequence[str] = (),
    ) -> None:
        """``owner`` owns ``response_id`` (the first owner recorded keeps it);
        ``body_sha256`` links it to the request record (``upstream_body_sha256``);
        ``files`` are the gateway file ids its conversation holds.

        Recording the same owner again is a no-op; an id another caller owns raises
        OwnerConflict (503: the caller never sees a response id that is not theirs)."""
        await self.ensure_index()
        source = {
            "response_id": response_id,
            "owner": owner,
            "created_at": int(time.time()),
            "upstream_body_sha256": body_sha256,
            "files": list(files),
        }
        try:
            with elasticsearch_errors(f"cannot write {self.index}"):
                await self._client.index(
                    index=self.index, id=_doc_id(response_id), document=source, op_type="create"
                )
        except VersionConflict:
            pass  # recorded before: whose is it?
        else:
            return
        stored = await self._owner(response_id)
        if stored is None:  # forgotten in between: not recorded, so never readable
            raise DependencyUnavailable(_DEPENDENCY, "the response id changed concurrently")
        if stored.owner != owner:
            raise OwnerConflict

    async def owns(self, owner: str, response_id: str) -> bool:
        return await self.held(owner, response_id) is not None

    async def held(self, owner: str, response_id: str) -> tuple[str, ...] | None:
        """The file ids ``owner``'s response's conversation holds; None: not theirs."""
        stored = await self._owner(response_id)
        return stored.files if stored is not None and stored.owner == owner else None

    async def forget(self, owner: str, response_id: str) -> None:
        """Delete ``owner``'s entry for ``response_id``; another caller's stays."""
        stored = await self._owner(response_id)
        if stored is None or stored.owner != owner:
            return
        with (
            contextlib.suppress(VersionConflict, IndexNotFound),  # changed or gone since read
            elasticsearch_errors(f"cannot write {self.index}"),
        ):
            await self._client.delete(
                index=self.index,
                id=_doc_id(response_id),
                if_seq_no=stored.seq_no,
                if_primary_term=stored.primary_term,
            )

    async def _owner(self, response_id: str) -> _Stored | None:
        """The stored entry with its version, or None (also without the index)."""
        try:
            with elasticsearch_errors(f"cannot read {self.index}"):
                response = await self._client.get(
                    index=self.index, id=_doc_id(response_id), source_includes=["owner", "files"]
                )
        except IndexNotFound:  # no such entry, or no index yet
            return None
        source = response["_source"]
        return _Stored(
            str(source.get("owner")),
            tuple(str(f) for f in source.get("files") or ()),
            int(response["_seq_no"]),
            int(response["_primary_term"]),
        )


def _doc_id(response_id: str) -> str:
    return sha256_hex(response_id)

"""What ingest needs from Elasticsearch beyond ChunkIndex: the stored versions, and deletes.

Deletes scan for ids (``search_after`` over ``chunk_id``) and bulk-delete them: the
integ-test-zip distribution has no reindex module, hence no ``_delete_by_query``, and
this works on every distribution. Library errors become DependencyUnavailable through
``gateway.elastic.elasticsearch_errors``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_bulk

from gateway.elastic import BULK_BYTES, ChunkIndex, elasticsearch_errors

_PAGE = 1000


@dataclass(slots=True)
class StoredDocument:
    """A document as the index holds it: chunk counts per version, first creation time."""

    versions: dict[str, int] = field(default_factory=dict)
    created_at: str | None = None


def _client(index: ChunkIndex) -> AsyncElasticsearch:
    return index.client


class ChunkStore:
    """Reads and deletes one corpus's chunks in the ChunkIndex's index."""

    def __init__(self, index: ChunkIndex) -> None:
        self._index = index
        self._client = _client(index)

    async def documents(self, corpus: str) -> dict[str, StoredDocument]:
        """Every doc_id of ``corpus`` with its stored versions and their chunk counts."""
        stored: dict[str, StoredDocument] = {}
        composite: dict[str, Any] = {
            "size": _PAGE,
            "sources": [
                {"doc_id": {"terms": {"field": "doc_id"}}},
                {"version": {"terms": {"field": "doc_version"}}},
            ],
        }
        while True:
            response = await self._call(
                "cannot list stored documents",
                self._client.search(
                    index=self._index.name,
                    size=0,
                    query={"term": {"corpus": corpus}},
                    aggs={
                        "docs": {
                            "composite": composite,
                            "aggs": {"created": {"min": {"field": "created_at"}}},
                        }
                    },
                ),
            )
            result = response["aggregations"]["docs"]
            for bucket in result["buckets"]:
                doc = stored.setdefault(bucket["key"]["doc_id"], StoredDocument())
                doc.versions[bucket["key"]["version"]] = int(bucket["doc_count"])
                created = bucket["created"].get("value_as_string")
                if created is not None and (doc.created_at is None or created < doc.created_at):
                    doc.created_at = created
            if not result["buckets"] or "after_key" not in result:
                return stored
            composite = {**composite, "after": result["after_key"]}

    async def delete_other_versions(self, corpus: str, keep: Mapping[str, str]) -> int:
        """Delete chunks of the documents in ``keep`` whose version is not the one kept.

        Versions are unique per document (the doc_id is part of the hash), so one query
        covers a whole batch.
        """
        if not keep:
            return 0
        return await self._delete_matching(
            {
                "bool": {
                    "filter": [
                        {"term": {"corpus": corpus}},
                        {"terms": {"doc_id": list(keep)}},
                    ],
                    "must_not": [{"terms": {"doc_version": list(keep.values())}}],
                }
            }
        )

    async def delete_documents(self, corpus: str, doc_ids: Collection[str]) -> int:
        """Delete every chunk of these documents of ``corpus``."""
        deleted = 0
        ids = sorted(doc_ids)
        for first in range(0, len(ids), _PAGE):
            deleted += await self._delete_matching(
                {
                    "bool": {
                        "filter": [
                            {"term": {"corpus": corpus}},
                            {"terms": {"doc_id": ids[first : first + _PAGE]}},
                        ]
                    }
                }
            )
        return deleted

    async def refresh(self) -> None:
        """Make everything written so far searchable."""
        await self._call("cannot refresh", self._client.indices.refresh(index=self._index.name))

    async def _delete_matching(self, query: Mapping[str, Any]) -> int:
        deleted = 0
        after: list[Any] | None = None
        while True:
            response = await self._call(
                "cannot find chunks to delete",
                self._client.search(
                    index=self._index.name,
                    query=dict(query),
                    size=_PAGE,
                    source=False,
                    sort=[{"chunk_id": "asc"}],
                    search_after=after,
                    track_total_hits=False,
                ),
            )
            hits = response["hits"]["hits"]
            if not hits:
                return deleted
            actions = [
                {"_op_type": "delete", "_index": self._index.name, "_id": hit["_id"]}
                for hit in hits
            ]
            await self._call(
                "cannot delete chunks",
                async_bulk(
                    self._client,
                    actions,
                    refresh=False,
                    ignore_status=(404,),
                    max_chunk_bytes=BULK_BYTES,
                ),
            )
            deleted += len(hits)
            after = hits[-1]["sort"]

    async def _call(self, what: str, call: Awaitable[Any]) -> Any:
        with elasticsearch_errors(f"{what} in {self._index.name}", name_error=True):
            return await call

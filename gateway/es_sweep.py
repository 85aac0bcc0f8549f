"""Delete the documents a query matches, without ``_delete_by_query``.

``_delete_by_query`` lives in Elasticsearch's reindex module, which minimal distributions
(the integ-test zip the local stack runs) do not ship; a search for the ids followed by
one bulk delete works everywhere, and an expiry sweep needs no more than a batch per run.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.elastic import IndexNotFound, elasticsearch_errors

BATCH = 1000


async def delete_matching(
    client: AsyncElasticsearch, index: str, query: dict[str, Any], *, batch: int = BATCH
) -> int:
    """Delete up to ``batch`` documents matching ``query``; returns how many went.

    Documents deleted or changed concurrently by another replica are no error."""
    try:
        with elasticsearch_errors(f"cannot search {index}"):
            found = await client.search(
                index=index, query=query, size=batch, source=False, track_total_hits=False
            )
    except IndexNotFound:
        return 0
    ids = [hit["_id"] for hit in found["hits"]["hits"]]
    if not ids:
        return 0
    with elasticsearch_errors(f"cannot clean {index}"):
        await client.bulk(index=index, operations=[{"delete": {"_id": doc_id}} for doc_id in ids])
    return len(ids)

"""Elasticsearch adapter: the client, the one error map, and the governed chunk index.

Library exceptions become DependencyUnavailable in ``elasticsearch_errors`` and nowhere
else (every module that talks to Elasticsearch wraps its calls in it), so a search that
cannot run is a refused request, never an unfiltered one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

from elasticsearch import AsyncElasticsearch
from elasticsearch import exceptions as es_exc
from elasticsearch.helpers import BulkIndexError, async_bulk

from gateway.errors import DependencyUnavailable
from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema, load_schema
from gateway.settings import Settings

MAPPING_VERSION = 1
BULK_BYTES = 512 * 1024
"""Most bytes in one bulk request the gateway builds: aiohttp (3.13+) writes a body over
1 MiB in one go on the event loop and warns about it (``ResourceWarning``); many small
bulks keep the loop free and cost little on a local cluster."""


class IndexNotFound(DependencyUnavailable):
    """The index does not exist (yet); callers for whom that means "nothing stored" catch it."""


class IndexAlreadyExists(DependencyUnavailable):
    """Creating an index that another process created first."""


class VersionConflict(DependencyUnavailable):
    """A conditional write lost: the document changed (``if_seq_no``) or exists
    (``op_type=create``); optimistic-concurrency callers catch it and retry."""


@contextmanager
def elasticsearch_errors(what: str, *, name_error: bool = False) -> Iterator[None]:
    """The one map from the client's exceptions to ``DependencyUnavailable(what)``.

    ``name_error`` appends the exception's class name (never its text, which can quote
    documents); a failed bulk request names only its items' error types, for the same
    reason.
    """
    try:
        yield
    except BulkIndexError as exc:
        kinds = ", ".join(sorted({_bulk_error_type(e) for e in exc.errors}))
        raise DependencyUnavailable("elasticsearch", f"{what}: {kinds}") from exc
    except (es_exc.ApiError, es_exc.TransportError) as exc:
        detail = f"{what} ({type(exc).__name__})" if name_error else what
        if isinstance(exc, es_exc.NotFoundError):
            raise IndexNotFound("elasticsearch", detail) from exc
        if isinstance(exc, es_exc.ConflictError):
            raise VersionConflict("elasticsearch", detail) from exc
        already = "resource_already_exists_exception"
        if isinstance(exc, es_exc.BadRequestError) and exc.error == already:
            raise IndexAlreadyExists("elasticsearch", detail) from exc
        raise DependencyUnavailable("elasticsearch", detail) from exc


async def create_index_if_missing(
    client: AsyncElasticsearch, index: str, mappings: dict[str, Any], **settings: Any
) -> None:
    """Create a one-shard index for the gateway's own state unless it exists. Replicas
    race on it at start-up: the loser's "already exists" is success."""
    with contextlib.suppress(IndexAlreadyExists), elasticsearch_errors(f"cannot create {index}"):
        if not await client.indices.exists(index=index):
            await client.indices.create(
                index=index,
                mappings=mappings,
                settings={"number_of_shards": 1, "number_of_replicas": 0, **settings},
            )


def timestamp(value: datetime) -> str:
    """UTC, millisecond precision: the form Elasticsearch returns from aggregations."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chunk_mapping(
    analyzer: str = "standard", schema: GovernanceSchema = BUILTIN_SCHEMA
) -> dict[str, Any]:
    """Index mapping, versioned by MAPPING_VERSION. Governance fields are keywords, plus
    the governance schema's custom fields (added in place to an existing index)."""
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "chunk_id": keyword,
            "doc_id": keyword,
            "doc_version": keyword,
            "chunk_index": {"type": "integer"},
            "corpus": keyword,
            "title": {"type": "text", "analyzer": analyzer},
            "source_uri": keyword,
            "classification": keyword,
            "owner": keyword,
            "allowed_groups": keyword,
            "allowed_users": keyword,
            "tenant": keyword,
            "labels": keyword,
            "content_hash": keyword,
            "chunk_sha256": keyword,
            "text": {"type": "text", "analyzer": analyzer},
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "token_count": {"type": "integer"},
            "pii": {"type": "object", "enabled": False},
            # Winnowed k-gram hashes of the chunk text (gateway.fingerprint), for the
            # fine-tune guard's overlap search; multi-valued, read back from _source.
            "fingerprints": {"type": "long", "doc_values": False},
            # The scheme the fingerprints were computed with (gateway.fingerprint.SCHEME);
            # the scan refuses to compare across schemes.
            "fingerprint_scheme": keyword,
            "created_at": {"type": "date"},
            "updated_at": {"type": "date"},
            "ingested_at": {"type": "date"},
            **schema.es_properties(),
        },
    }


def elasticsearch_client(settings: Settings, *, max_retries: int) -> AsyncElasticsearch:
    """The client for the configured cluster: basic auth and CA bundle when set."""
    password = settings.elasticsearch_password
    auth = (
        (settings.elasticsearch_username, password.get_secret_value())
        if settings.elasticsearch_username and password
        else None
    )
    tls: dict[str, Any] = {}
    if settings.elasticsearch_ca_certs:
        tls["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return AsyncElasticsearch(
        hosts=[str(settings.elasticsearch_url)],
        basic_auth=auth,
        **tls,
        request_timeout=settings.elasticsearch_timeout_s,
        max_retries=max_retries,
        retry_on_timeout=False,
    )


def chunk_index_name(index_prefix: str) -> str:
    return f"{index_prefix}-chunks-v{MAPPING_VERSION}"


class ChunkIndex:
    """Owns the AsyncElasticsearch client; opened and closed by the app lifespan."""

    def __init__(self, client: AsyncElasticsearch, name: str, schema: GovernanceSchema) -> None:
        self._client = client
        self.name = name
        self.schema = schema
        """The governance fields documents carry (GATEWAY_GOVERNANCE_SCHEMA_FILE)."""

    @classmethod
    def from_settings(cls, settings: Settings, schema: GovernanceSchema | None = None) -> Self:
        """The configured cluster's chunk index, with its own client (one retry)."""
        return cls(
            elasticsearch_client(settings, max_retries=1),
            chunk_index_name(settings.index_prefix),
            schema if schema is not None else load_schema(settings.governance_schema_file),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.close()

    @property
    def client(self) -> AsyncElasticsearch:
        """The underlying client, for adapters that need more than this class offers."""
        return self._client

    async def health(self) -> str:
        """Cluster status (green/yellow/red); raises DependencyUnavailable if unreachable."""
        with elasticsearch_errors("cluster health", name_error=True):
            response = await self._client.cluster.health()
        return str(response["status"])

    async def ensure_index(self, analyzer: str = "standard") -> bool:
        """Create the index if missing, or add fields a newer mapping brought; True if created.

        Added fields are the only mapping change made in place; a changed field type is
        refused by Elasticsearch and needs a new index version (MAPPING_VERSION).
        """
        with elasticsearch_errors(f"cannot create {self.name}"):
            try:
                if await self._client.indices.exists(index=self.name):
                    mapping = chunk_mapping(analyzer, self.schema)
                    await self._client.indices.put_mapping(
                        index=self.name, properties=mapping["properties"], meta=mapping["_meta"]
                    )
                    return False
                await self._client.indices.create(
                    index=self.name,
                    mappings=chunk_mapping(analyzer, self.schema),
                    settings={"number_of_shards": 1, "number_of_replicas": 0},
                )
            except es_exc.BadRequestError as exc:
                # A schema field whose type changed: Elasticsearch refuses to remap it.
                raise DependencyUnavailable(
                    "elasticsearch",
                    f"cannot update the mapping of {self.name} ({_reason(exc)}): a governance "
                    "field's type cannot change in place; use a new index prefix and re-ingest",
                ) from exc
        return True

    async def delete_index(self) -> None:
        with elasticsearch_errors(f"cannot delete {self.name}"):
            await self._client.indices.delete(index=self.name, ignore_unavailable=True)

    async def index_chunks(self, chunks: Iterable[Mapping[str, Any]], refresh: bool = True) -> int:
        """Bulk-index chunks by their ``chunk_id``; returns how many were written."""
        actions = (
            {"_index": self.name, "_id": chunk["chunk_id"], "_source": dict(chunk)}
            for chunk in chunks
        )
        with elasticsearch_errors(f"bulk indexing into {self.name} failed"):
            written, _ = await async_bulk(
                self._client,
                actions,
                refresh="wait_for" if refresh else False,
                max_chunk_bytes=BULK_BYTES,
            )
        return written

    async def search(
        self, query: str, *, authorization_filter: Mapping[str, Any], k: int = 5
    ) -> list[dict[str, Any]]:
        """BM25 over chunk text and title, restricted by ``authorization_filter``.

        The filter is mandatory: a caller that means "everything" must say match_all.
        """
        with elasticsearch_errors(f"search on {self.name} failed"):
            response = await self._client.search(
                index=self.name,
                size=k,
                query={
                    "bool": {
                        "must": [{"multi_match": {"query": query, "fields": ["text", "title^2"]}}],
                        "filter": [dict(authorization_filter)],
                    }
                },
            )
        return [{**hit["_source"], "_score": hit["_score"]} for hit in response["hits"]["hits"]]


def _reason(exc: es_exc.ApiError) -> str:
    """Elasticsearch's own reason for a refused mapping (field names and types only)."""
    body = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error")
    reason = error.get("reason") if isinstance(error, Mapping) else None
    return str(reason) if reason else type(exc).__name__


def _bulk_error_type(item: Mapping[str, Any]) -> str:
    for result in item.values():
        error = result.get("error") if isinstance(result, Mapping) else None
        if isinstance(error, Mapping):
            return str(error.get("type", "unknown"))
    return "unknown"

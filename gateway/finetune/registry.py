"""Which caller owns which uploaded file and fine-tuning job: an Elasticsearch index.

The upstream knows nothing of the gateway's callers, so the gateway keeps ownership
itself and shows each caller only their own objects. The registry lives in the shared
engine (``<prefix>-finetune-v1``), so every replica serves every caller: a file uploaded
through one replica is trained on through another.

- Reads by id use the realtime GET API; every write asks for ``refresh=true``, so a
  listing (a search) on any replica sees it as soon as the write has returned. The
  registry is small and written rarely (uploads, scan outcomes, jobs), so the refresh
  costs little.
- A file's state changes (scan lease, outcome, upstream id) are read-modify-write with
  ``if_seq_no``/``if_primary_term``: a concurrent writer's change is never overwritten;
  the loser reads again and re-applies its change, or gives up with a clear 503.

Elasticsearch errors become DependencyUnavailable here (the caller fails closed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.elastic import (
    IndexNotFound,
    VersionConflict,
    create_index_if_missing,
    elasticsearch_errors,
)
from gateway.errors import DependencyUnavailable

MAPPING_VERSION = 1
UPLOADED, PROCESSED, ERROR = "uploaded", "processed", "error"
UPDATE_ATTEMPTS = 5
"""Read-modify-write attempts before a contended update gives up (503)."""
_MAX_LIST = 10_000
_DEPENDENCY = "finetune registry"


@dataclass(frozen=True, slots=True)
class Update:
    """What ``update_file`` left stored, and whether this call wrote it."""

    entry: FileEntry | None
    """The entry as stored after the call; None when there is no such file."""
    written: bool


class RegistryConflict(DependencyUnavailable):
    """An update lost the optimistic-concurrency race every time it was tried."""

    def __init__(self, message: str) -> None:
        super().__init__(_DEPENDENCY, message)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One uploaded file: who owns it and where its scan stands."""

    id: str
    """The gateway's file id (what callers see)."""
    owner: str
    purpose: str
    filename: str
    bytes: int
    sha256: str
    created_at: int
    """Unix seconds (OpenAI's field)."""
    uploaded_at: float = 0.0
    """Unix seconds, fractional: orders listings of files uploaded within one second."""
    status: str = UPLOADED
    """``uploaded`` (being scanned) -> ``processed`` | ``error``."""
    status_details: str | None = None
    """Why the file is in ``error`` (policy reasons, never training text)."""
    error_code: str | None = None
    """The OpenAI error code a job on this file is refused with."""
    error_status: int | None = None
    """The HTTP status a job on this file is refused with (403 policy, 400 otherwise)."""
    upstream_id: str | None = None
    """The upstream's id for the file, once it passed the scan and was stored there."""
    examples: int = 0
    scanned_at: str | None = None
    """When the scan started (chunks ingested after it are searched again at job time)."""
    matches: list[dict[str, Any]] = field(default_factory=list)
    """The corpus matches at or over the policy's ``match_floor`` (ids and scores, no
    text): those the policy saw."""
    corpus_check: dict[str, Any] | None = None
    """The latest corpus match of the whole file: ``{"state", "matches", "left_out",
    "floor", "documents"}`` (the corpus state it holds for, the match facts at or over
    ``floor``, how many were left out, the matched documents' governance fields; no
    text). Written by the scan and by each re-check that matched again
    (``gateway.finetune.recheck``); None for files scanned before it existed."""
    lease_owner: str | None = None
    """The replica scanning the file (while ``uploaded``)."""
    lease_until: float = 0.0
    """Unix seconds; a scan lease not renewed by then was interrupted."""

    def file_object(self) -> dict[str, Any]:
        """OpenAI's File object for this entry."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
            "status_details": self.status_details,
        }


def registry_mapping() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "kind": keyword,  # file | job
            "id": keyword,
            "owner": keyword,
            "purpose": keyword,
            "filename": {"type": "keyword", "index": False},
            "bytes": {"type": "long"},
            "sha256": keyword,
            "created_at": {"type": "long"},
            "uploaded_at": {"type": "double"},
            "status": keyword,
            "status_details": {"type": "keyword", "index": False},
            "error_code": keyword,
            "error_status": {"type": "integer"},
            "upstream_id": keyword,
            "examples": {"type": "integer"},
            "scanned_at": keyword,
            "matches": {"type": "object", "enabled": False},
            "corpus_check": {"type": "object", "enabled": False},
            "lease_owner": keyword,
            "lease_until": {"type": "double"},
            "file_id": keyword,
        },
    }


class Registry:
    """Files and jobs per caller, over the lifespan's Elasticsearch client."""

    def __init__(self, client: AsyncElasticsearch, index_prefix: str) -> None:
        self._client = client
        self.index = f"{index_prefix}-finetune-v{MAPPING_VERSION}"

    async def ensure_index(self) -> None:
        """Create the index if it is missing (idempotent; replicas may race on it)."""
        # An explicit refresh interval keeps the shard out of "search idle".
        await create_index_if_missing(
            self._client, self.index, registry_mapping(), refresh_interval="1s"
        )
        # Fields added since an index was created (the mapping is strict): added in place.
        with elasticsearch_errors(f"cannot update the mapping of {self.index}"):
            await self._client.indices.put_mapping(
                index=self.index, properties=registry_mapping()["properties"]
            )

    # -- files ------------------------------------------------------------------------

    async def add_file(self, entry: FileEntry) -> None:
        """Register a new file; its id must be new."""
        await self._index(_file_doc_id(entry.id), _file_source(entry), op_type="create")

    async def get_file(self, file_id: str) -> FileEntry | None:
        found = await self._get(_file_doc_id(file_id))
        return _file_entry(found[0]) if found else None

    async def file(self, owner: str, file_id: str) -> FileEntry | None:
        """The caller's file, or None (also when it is someone else's)."""
        entry = await self.get_file(file_id)
        return entry if entry is not None and entry.owner == owner else None

    async def update_file(
        self,
        file_id: str,
        change: Callable[[FileEntry], FileEntry | None],
        *,
        attempts: int = UPDATE_ATTEMPTS,
    ) -> Update:
        """Apply ``change`` to the stored entry with optimistic concurrency.

        ``change`` gets the current entry and returns the new one, or None to leave it
        as it is. A concurrent write in between makes the index call fail (409): the
        entry is read again and ``change`` applied to what is stored now, up to
        ``attempts`` times, then RegistryConflict (never a lost update).
        """
        for _ in range(attempts):
            found = await self._get(_file_doc_id(file_id))
            if found is None:
                return Update(None, written=False)
            source, seq_no, primary_term = found
            current = _file_entry(source)
            updated = change(current)
            if updated is None or updated == current:
                return Update(current, written=False)
            try:
                await self._index(
                    _file_doc_id(file_id),
                    _file_source(updated),
                    if_seq_no=seq_no,
                    if_primary_term=primary_term,
                )
            except _Conflict:
                continue
            return Update(updated, written=True)
        raise RegistryConflict(f"file {file_id} is being changed concurrently; try again")

    async def delete_file(self, file_id: str) -> None:
        await self._delete(_file_doc_id(file_id))

    async def list_files(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, order: str
    ) -> tuple[list[FileEntry], bool]:
        """The caller's files by upload time (``order`` asc/desc), ``limit`` of them after
        the file ``after`` (an unknown cursor starts at the beginning)."""
        filters: list[dict[str, Any]] = [{"term": {"kind": "file"}}, {"term": {"owner": owner}}]
        if purpose:
            filters.append({"term": {"purpose": purpose}})
        search_after: list[Any] | None = None
        if after:
            cursor = await self.file(owner, after)
            if cursor is not None:
                search_after = [cursor.uploaded_at, cursor.id]
        hits = await self._search(
            {"bool": {"filter": filters}},
            sort=[{"uploaded_at": order}, {"id": order}],
            size=min(limit + 1, _MAX_LIST),
            search_after=search_after,
        )
        entries = [_file_entry(hit) for hit in hits]
        return entries[:limit], len(entries) > limit

    async def file_ids_by_upstream(self, upstream_ids: Iterable[str]) -> dict[str, str]:
        """Gateway file ids of files stored upstream under these ids."""
        wanted = sorted(set(upstream_ids))
        if not wanted:
            return {}
        hits = await self._search(
            {"bool": {"filter": [{"term": {"kind": "file"}}, {"terms": {"upstream_id": wanted}}]}},
            size=len(wanted),
        )
        return {str(hit["upstream_id"]): str(hit["id"]) for hit in hits}

    # -- jobs -------------------------------------------------------------------------

    async def add_job(self, owner: str, job_id: str, file_id: str, created_at: int) -> None:
        source = {
            "kind": "job",
            "id": job_id,
            "owner": owner,
            "file_id": file_id,
            "created_at": created_at,
        }
        await self._index(_job_doc_id(job_id), source)

    async def owns_job(self, owner: str, job_id: str) -> bool:
        found = await self._get(_job_doc_id(job_id))
        return found is not None and found[0].get("owner") == owner

    async def job_ids(self, owner: str) -> set[str]:
        hits = await self._search(
            {"bool": {"filter": [{"term": {"kind": "job"}}, {"term": {"owner": owner}}]}},
            size=_MAX_LIST,
        )
        return {str(hit["id"]) for hit in hits}

    # -- the adapter ------------------------------------------------------------------

    async def _get(self, doc_id: str) -> tuple[dict[str, Any], int, int] | None:
        try:
            with elasticsearch_errors("cannot read the fine-tune registry"):
                response = await self._client.get(index=self.index, id=doc_id)
        except IndexNotFound:  # no such document (or no index yet)
            return None
        return dict(response["_source"]), int(response["_seq_no"]), int(response["_primary_term"])

    async def _index(self, doc_id: str, source: dict[str, Any], **options: Any) -> None:
        try:
            with elasticsearch_errors("cannot write the fine-tune registry"):
                await self._client.index(
                    index=self.index, id=doc_id, document=source, refresh=True, **options
                )
        except VersionConflict as exc:
            if "if_seq_no" in options:
                raise _Conflict from exc
            raise DependencyUnavailable(_DEPENDENCY, f"{doc_id} exists already") from exc

    async def _delete(self, doc_id: str) -> None:
        with (
            contextlib.suppress(IndexNotFound),
            elasticsearch_errors("cannot write the fine-tune registry"),
        ):
            await self._client.delete(index=self.index, id=doc_id, refresh=True)

    async def _search(
        self,
        query: dict[str, Any],
        *,
        size: int,
        sort: list[dict[str, str]] | None = None,
        search_after: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        options: dict[str, Any] = {}
        if sort:
            options["sort"] = sort
        if search_after:
            options["search_after"] = search_after
        with elasticsearch_errors("cannot search the fine-tune registry"):
            response = await self._client.search(
                index=self.index, query=query, size=size, **options
            )
        return [dict(hit["_source"]) for hit in response["hits"]["hits"]]


class _Conflict(Exception):
    """A conditional write found a newer version (HTTP 409)."""


def _file_doc_id(file_id: str) -> str:
    return f"file:{file_id}"


def _job_doc_id(job_id: str) -> str:
    return f"job:{job_id}"


_FILE_FIELDS = frozenset(FileEntry.__dataclass_fields__)


def _file_source(entry: FileEntry) -> dict[str, Any]:
    return {"kind": "file", **asdict(entry)}


def _file_entry(source: dict[str, Any]) -> FileEntry:
    values = {k: v for k, v in source.items() if k in _FILE_FIELDS}
    entry = FileEntry(**values)
    return replace(entry, matches=list(entry.matches or []))

"""One page of a caller's own files or jobs, read from the upstream's list of everyone's."""

from __future__ import annotations

from typing import Any

from gateway.errors import BadRequest
from gateway.finetune.upstream import FinetuneUpstream

# Listing the caller's files or jobs reads the upstream's (everyone's) list this many at
# a time, at most this many pages per call.
UPSTREAM_PAGE_SIZE = 100
MAX_UPSTREAM_PAGES = 50
# OpenAI's list ``limit``s: (default, maximum).
JOB_LIST_LIMITS = (20, 100)
FILE_LIST_LIMITS = (10_000, 10_000)


async def own_list(
    upstream: FinetuneUpstream,
    path: str,
    owned: set[str],
    params: dict[str, str],
    limits: tuple[int, int],
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One page of the caller's objects, by ``after`` / ``limit`` over them alone.

    The upstream pages over everyone's objects, so its pages are read (from ``after``)
    and filtered until ``limit`` of the caller's are found or the upstream has no more.
    """
    limit = list_limit(params.get("limit"), *limits)
    cursor = params.get("after")
    found: list[dict[str, Any]] = []
    upstream_has_more = True
    for _ in range(MAX_UPSTREAM_PAGES):
        query = {**(extra or {}), "limit": str(UPSTREAM_PAGE_SIZE)}
        if cursor:
            query["after"] = cursor
        listing = await upstream.get(path, query)
        page = [item for item in listing.get("data") or [] if isinstance(item, dict)]
        found += [item for item in page if item.get("id") in owned]
        upstream_has_more = bool(listing.get("has_more")) and bool(page)
        if len(found) > limit or not upstream_has_more:
            break
        cursor = str(page[-1].get("id"))
    return {
        "object": "list",
        "data": found[:limit],
        "has_more": len(found) > limit or upstream_has_more,
    }


def list_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise BadRequest(f"'limit' must be an integer from 1 to {maximum}.", param="limit")
    return limit

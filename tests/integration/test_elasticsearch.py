from typing import Any

import pytest

from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable

from .conftest import closed_port_url, ingest_demo

pytestmark = pytest.mark.integration


async def test_index_and_find_a_document(settings_for: Any) -> None:
    """Demo chunks indexed into the real Elasticsearch are found by BM25."""
    async with ChunkIndex.from_settings(settings_for()) as index:
        assert await index.ensure_index() is True
        assert await index.ensure_index() is False  # idempotent
        await ingest_demo(index)
        hits = await index.search("paid vacation days", authorization_filter={"match_all": {}})
    assert hits[0]["doc_id"] == "acme-vacation-policy"
    assert "28 days" in hits[0]["text"]


async def test_filter_is_applied_inside_the_query(settings_for: Any) -> None:
    """A governance filter excludes documents even when they match the query best."""
    async with ChunkIndex.from_settings(settings_for()) as index:
        await ingest_demo(index)
        only_sales = {"terms": {"allowed_groups": ["sales"]}}
        hits = await index.search(
            "break-glass vault hardware tokens", authorization_filter=only_sales
        )
        everyone = await index.search(
            "break-glass vault hardware tokens", authorization_filter={"match_all": {}}
        )
    assert everyone[0]["doc_id"] == "acme-incident-runbook"
    assert all(hit["doc_id"] != "acme-incident-runbook" for hit in hits)


async def test_unreachable_elasticsearch_fails_closed(settings_for: Any) -> None:
    """A stopped Elasticsearch is DependencyUnavailable naming elasticsearch."""
    async with ChunkIndex.from_settings(
        settings_for(elasticsearch_url=closed_port_url(), elasticsearch_timeout_s=1)
    ) as index:
        with pytest.raises(DependencyUnavailable, match=r"^elasticsearch unavailable"):
            await index.health()
        with pytest.raises(DependencyUnavailable):
            await index.search("x", authorization_filter={"match_all": {}})


async def test_wrong_credentials_fail_closed(settings_for: Any) -> None:
    """Security is on: a wrong password is refused by Elasticsearch itself."""
    async with ChunkIndex.from_settings(
        settings_for(elasticsearch_password="wrong-password")
    ) as index:
        with pytest.raises(DependencyUnavailable, match="AuthenticationException"):
            await index.health()

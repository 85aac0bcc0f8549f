"""A stored file named as model input is matched against the corpus as it is at use:
text ingested as governed after the file's upload scan refuses it on every path where
a file id reaches the upstream (real Elasticsearch and OPA, the recording fake upstream).
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.elastic import ChunkIndex
from gateway.finetune.registry import Registry
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records, ingest_texts
from .test_file_inputs import CHAT, RESPONSES, auth, chat_with_file, model_calls, upload

pytestmark = pytest.mark.integration

MEMO = (
    "The merger with Globex closes on the ninth of March; the board approved a price "
    "of forty dollars per share and the deal team is sworn to silence until then.\n"
)
UNRELATED = (
    "The cafeteria now serves lentil soup on Tuesdays and a vegetable curry on Fridays, "
    "and the espresso machine on the third floor has finally been repaired.\n"
)
LEGAL = {"classification": "restricted", "allowed_groups": ["legal"]}
"""Governance bob cannot retrieve under (he is in sales)."""


def responses_with_file(file_id: str) -> dict[str, Any]:
    part = {"type": "input_file", "file_id": file_id}
    return {"model": "gpt-4o-mini", "input": [{"role": "user", "content": [part]}]}


def tool_output_with_file(file_id: str) -> dict[str, Any]:
    items = [
        {"type": "function_call", "call_id": "c1", "name": "fetch", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [{"type": "input_file", "file_id": file_id}],
        },
    ]
    return {"model": "gpt-4o-mini", "input": items}


PATHS = {
    "chat file part": (CHAT, chat_with_file),
    "responses input_file": (RESPONSES, responses_with_file),
    "responses tool output": (RESPONSES, tool_output_with_file),
}


def uses(settings: Settings, file_id: str) -> list[dict[str, Any]]:
    """The ``files.use`` decision records of one file."""
    return [
        r
        for r in audit_records(settings, "finetune")
        if r.get("action") == "files.use" and r.get("file_id") == file_id
    ]


@pytest.mark.parametrize("path", PATHS)
async def test_a_file_governed_after_its_scan_is_refused_as_model_input(
    path: str, demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """bob's user_data file passes its scan; the same text is then ingested as restricted
    (a document bob may not retrieve). Naming the file is a 403 that counts the document
    without naming it, audited with the file id; a second use is refused from the
    recorded match without matching again; nothing reaches the upstream."""
    endpoint, body = PATHS[path]
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal", defaults=LEGAL)
    fake_upstream.clear()

    for attempt in range(2):
        refused = await demo_client.post(endpoint, json=body(file_id), headers=auth(BOB))
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "finetune_data_governed"
        assert error["type"] == "permission_error"
        assert "overlap 1 governed document(s)" in error["message"]
        assert "memo.txt" not in error["message"]
        assert "Globex" not in error["message"]
        assert error["param"].endswith("file_id")
        (use,) = uses(settings, file_id)[attempt:]
        assert use["allowed"] is False
        assert use["rematched"] is (attempt == 0)
        assert [v["doc_id"] for v in use["violations"]] == ["memo.txt"]
    assert model_calls(fake_upstream) == []
    denials = [r for r in audit_records(settings) if r.get("file_id") == file_id]
    assert [(r["allowed"], r["status"], r["refused"]) for r in denials] == [
        (False, 403, "finetune_data_governed")
    ] * 2
    assert denials[0]["denial_reasons"] == [
        "lines [1] overlap 1 governed document(s) that may not be used for training"
    ]


async def test_a_refusal_names_a_document_the_caller_may_retrieve(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Ingested afterwards as internal text of bob's own group: the refusal names it."""
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    sales = {"classification": "internal", "allowed_groups": ["sales"], "tenant": "acme"}
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal", defaults=sales)
    refused = await demo_client.post(CHAT, json=chat_with_file(file_id), headers=auth(BOB))
    assert refused.status_code == 403, refused.text
    assert 'overlap document "memo.txt" of corpus "legal"' in refused.json()["error"]["message"]


@pytest.mark.parametrize("path", PATHS)
async def test_unrelated_text_ingested_after_the_scan_lets_the_file_through(
    path: str, demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The corpus changed, but not with the file's text: the file is matched again once,
    allowed, and reaches the upstream; the next use reuses that match."""
    endpoint, body = PATHS[path]
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"canteen.txt": UNRELATED}, corpus="legal", defaults=LEGAL)
    fake_upstream.clear()

    for _ in range(2):
        ok = await demo_client.post(endpoint, json=body(file_id), headers=auth(BOB))
        assert ok.status_code == 200, ok.text
    assert len(model_calls(fake_upstream)) == 2
    (use,) = uses(settings, file_id)
    assert (use["allowed"], use["rematched"]) == (True, True)


async def test_a_corpus_that_cannot_be_matched_fails_closed(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A chunk fingerprinted under another scheme written since the scan: the re-check
    cannot match, so the request is a 503, never a pass, and nothing leaves."""
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    async with ChunkIndex.from_settings(settings) as index:
        await index.client.index(
            index=index.name,
            id="old-scheme",
            document={"chunk_id": "old-scheme", "fingerprints": [1, 2], "fingerprint_scheme": "v0"},
            refresh=True,
        )
    fake_upstream.clear()
    refused = await demo_client.post(CHAT, json=chat_with_file(file_id), headers=auth(BOB))
    assert refused.status_code == 503, refused.text
    assert "older scheme" in refused.json()["error"]["message"]
    assert model_calls(fake_upstream) == []


async def test_a_file_s_record_keeps_only_the_matches_over_the_policy_s_floor(
    demo_client: AsyncTestClient[Any], settings: Settings
) -> None:
    """A benign file sharing a short phrase with a governed document: the re-check's
    record keeps no match under the policy's ``match_floor``, only how many it left out
    (a large benign file's weak matches were megabytes read back at every use)."""
    text = UNRELATED.strip() + " Meanwhile the board approved a price for the new chairs.\n"
    file_id = await upload(demo_client, BOB, text.encode(), "user_data")
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal", defaults=LEGAL)
        ok = await demo_client.post(CHAT, json=chat_with_file(file_id), headers=auth(BOB))
        assert ok.status_code == 200, ok.text
        registry = Registry(index.client, settings.index_prefix)
        entry = await registry.get_file(file_id)
    assert entry is not None
    assert entry.corpus_check is not None
    assert entry.corpus_check["matches"] == []
    assert entry.corpus_check["left_out"] >= 1
    assert entry.corpus_check["floor"] == {"score": 0.2, "shared": 30, "shared_chars": 24}
    assert entry.corpus_check["documents"] == {}

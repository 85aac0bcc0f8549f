"""A Responses conversation continued with ``previous_response_id`` re-checks the files
its earlier turns named: the upstream still holds their text, so text ingested as
governed since refuses the continuation as it would refuse naming the file again (real
Elasticsearch and OPA, the recording fake upstream).
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.elastic import ChunkIndex
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records, ingest_texts
from .test_file_inputs import RESPONSES, auth, model_calls, upload
from .test_file_recheck import LEGAL, MEMO, UNRELATED, responses_with_file, uses

pytestmark = pytest.mark.integration


def follow_up(previous: str) -> dict[str, Any]:
    """A turn that names no file, continuing ``previous``."""
    return {"model": "gpt-4o-mini", "input": "and then?", "previous_response_id": previous}


async def first_turn(client: AsyncTestClient[Any], file_id: str) -> str:
    """A stored response whose input named the file: its id."""
    body = {**responses_with_file(file_id), "store": True}
    first = await client.post(RESPONSES, json=body, headers=auth(BOB))
    assert first.status_code == 200, first.text
    return str(first.json()["id"])


async def continued(client: AsyncTestClient[Any], previous: str) -> str:
    ok = await client.post(RESPONSES, json=follow_up(previous), headers=auth(BOB))
    assert ok.status_code == 200, ok.text
    return str(ok.json()["id"])


async def refused_continuation(
    client: AsyncTestClient[Any],
    settings: Settings,
    fake: FakeUpstream,
    previous: str,
    file_id: str,
    code: str = "finetune_data_governed",
) -> str:
    """Continuing ``previous`` is a 403 ``code`` on ``previous_response_id``, with one
    request record naming the held file and nothing upstream: the error's message."""
    refused = await client.post(RESPONSES, json=follow_up(previous), headers=auth(BOB))
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == (code, "previous_response_id")
    assert model_calls(fake) == []
    (denial,) = [r for r in audit_records(settings) if r.get("file_id") == file_id]
    assert (denial["allowed"], denial["status"], denial["refused"]) == (False, 403, code)
    return str(error["message"])


async def govern(settings: Settings, texts: dict[str, str]) -> None:
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, texts, corpus="legal", defaults=LEGAL)


@pytest.mark.parametrize("turns", [1, 2])
async def test_a_file_governed_after_an_earlier_turn_refuses_the_continuation(
    turns: int,
    demo_client: AsyncTestClient[Any],
    settings: Settings,
    fake_upstream: FakeUpstream,
) -> None:
    """bob names his file in turn 1 (continued once more without it when ``turns`` is 2);
    its text is then ingested as restricted. Continuing names no file, yet is a 403
    ``finetune_data_governed`` on ``previous_response_id``, audited with the held file's
    id and a ``files.use`` decision; nothing reaches the upstream."""
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    previous = await first_turn(demo_client, file_id)
    for _ in range(turns - 1):
        previous = await continued(demo_client, previous)
    await govern(settings, {"memo.txt": MEMO})
    fake_upstream.clear()

    message = await refused_continuation(demo_client, settings, fake_upstream, previous, file_id)
    assert "overlap 1 governed document(s)" in message
    assert "memo.txt" not in message
    (use,) = [u for u in uses(settings, file_id) if not u["allowed"]]
    assert [v["doc_id"] for v in use["violations"]] == ["memo.txt"]


async def test_an_unchanged_or_unrelated_corpus_lets_the_conversation_go_on(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Continuing under the corpus of turn 1 reuses the file's match; unrelated text
    ingested since re-matches it once and lets it through; three turns reach the upstream."""
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    previous = await first_turn(demo_client, file_id)
    previous = await continued(demo_client, previous)
    await govern(settings, {"canteen.txt": UNRELATED})
    await continued(demo_client, previous)
    assert len(model_calls(fake_upstream)) == 3
    assert [(u["allowed"], u["rematched"]) for u in uses(settings, file_id)] == [(True, True)]


async def test_a_held_file_deleted_since_refuses_the_continuation(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The file named in turn 1 is deleted: its text is still in the conversation and can
    no longer be checked, so continuing is a 403 asking for a new conversation, audited
    with the file's id; nothing reaches the upstream."""
    file_id = await upload(demo_client, BOB, MEMO.encode(), "user_data")
    previous = await first_turn(demo_client, file_id)
    deleted = await demo_client.delete(f"/v1/files/{file_id}", headers=auth(BOB))
    assert deleted.status_code == 200, deleted.text
    fake_upstream.clear()

    message = await refused_continuation(
        demo_client, settings, fake_upstream, previous, file_id, "conversation_file_unavailable"
    )
    assert "start a new conversation" in message

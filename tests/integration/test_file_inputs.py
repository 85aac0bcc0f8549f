"""File ids inside model requests: the caller's own files reach the upstream under the
upstream's ids; another caller's or an unknown id is the same 404 and never leaves
(real Elasticsearch and OPA, the recording fake upstream, the openai SDK for uploads)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import openai
import pytest
from litestar.testing import AsyncTestClient

from gateway.settings import Settings

from ..conftest import ALICE, BOB
from .conftest import FakeUpstream, audit_records

pytestmark = pytest.mark.integration

CHAT, RESPONSES = "/v1/chat/completions", "/v1/responses"
NOTES = b"Meeting notes: the garden party moves to Saturday; bring folding chairs.\n"
TRAINING = (
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Say hello."},
                {"role": "assistant", "content": "Hello there, friend."},
            ]
        }
    )
    + "\n"
).encode()
NO_RETRIEVAL = {"x-gateway-retrieval": "off"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **NO_RETRIEVAL}


async def upload(client: AsyncTestClient[Any], key: str, content: bytes, purpose: str) -> str:
    """A file of ``key``'s that passed the scan: its gateway id."""
    sdk = openai.AsyncOpenAI(
        base_url=f"{client.base_url}/v1",
        api_key=key,
        http_client=client,  # type: ignore[arg-type]  # the SDK types its own httpx fork
        max_retries=0,
    )
    uploaded = await sdk.files.create(file=("notes.txt", content), purpose=purpose)  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while (found := await sdk.files.retrieve(uploaded.id)).status == "uploaded":
        assert time.monotonic() < deadline, "scan did not finish"
        await asyncio.sleep(0.05)
    assert found.status == "processed", found.status_details
    return uploaded.id


async def upstream_id(settings: Settings, file_id: str) -> str:
    """The upstream's id for the file, from the gateway's ``files.stored`` record (written
    just after the file's status became ``processed``)."""
    deadline = time.monotonic() + 10
    while True:
        stored = [
            r
            for r in audit_records(settings, "finetune")
            if r.get("action") == "files.stored" and r.get("file_id") == file_id
        ]
        if stored or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    (record,) = stored
    return str(record["upstream_file_id"])


def model_calls(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [r for r in fake.requests() if r["path"] in ("/v1/chat/completions", "/v1/responses")]


def chat_with_file(file_id: str) -> dict[str, Any]:
    part = {"type": "file", "file": {"file_id": file_id}}
    content = [{"type": "text", "text": "summarise the notes"}, part]
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


async def test_chat_file_parts_carry_the_upstream_id_and_foreign_ids_are_one_404(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """alice's own user_data file reaches the upstream as its upstream id (recorded);
    bob naming it, an id nobody has, and the upstream's id sent directly are the same
    404 file_not_found, audited, and no such request reaches the upstream."""
    mine = await upload(demo_client, ALICE, NOTES, "user_data")
    upstream = await upstream_id(settings, mine)
    assert upstream != mine

    ok = await demo_client.post(CHAT, json=chat_with_file(mine), headers=auth(ALICE))
    assert ok.status_code == 200, ok.text
    (sent,) = model_calls(fake_upstream)
    assert sent["body"]["messages"][0]["content"][1]["file"] == {"file_id": upstream}
    assert mine not in sent["raw_body"]
    (record,) = [r for r in audit_records(settings) if r.get("allowed")]
    assert record["files"] == [
        {"file_id": mine, "upstream_file_id": upstream, "purpose": "user_data"}
    ]

    fake_upstream.clear()
    refusals = []
    for key, file_id in ((BOB, mine), (BOB, "file-0123456789abcdef01234567"), (ALICE, upstream)):
        refused = await demo_client.post(CHAT, json=chat_with_file(file_id), headers=auth(key))
        assert refused.status_code == 404, refused.text
        error = refused.json()["error"]
        refusals.append({**error, "message": error["message"].replace(file_id, "<id>")})
    assert refusals[0] == refusals[1] == refusals[2]
    assert refusals[0]["code"] == "file_not_found"
    assert refusals[0]["type"] == "not_found_error"
    assert refusals[0]["param"] == "messages[0].content[1].file.file_id"
    assert model_calls(fake_upstream) == []
    denied = [r for r in audit_records(settings) if r.get("refused") == "file_not_found"]
    assert [(r["subject"], r["status"]) for r in denied] == [
        ("bob", 404),
        ("bob", 404),
        ("alice", 404),
    ]
    assert denied[0]["file_id"] == mine


async def test_responses_file_parts_anywhere_are_resolved_and_purpose_is_policy(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """An input_file in a message and in a function call's output both go upstream as
    the upstream id; a fine-tune file is refused as model input (403, audited)."""
    mine = await upload(demo_client, ALICE, NOTES, "user_data")
    upstream = await upstream_id(settings, mine)
    items = [
        {"role": "user", "content": [{"type": "input_file", "file_id": mine}]},
        {"type": "function_call", "call_id": "c1", "name": "fetch", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [{"type": "input_file", "file_id": mine}],
        },
        {"role": "user", "content": "and now?"},
    ]
    body = {"model": "gpt-4o-mini", "input": items}
    ok = await demo_client.post(RESPONSES, json=body, headers=auth(ALICE))
    assert ok.status_code == 200, ok.text
    (sent,) = model_calls(fake_upstream)
    assert sent["body"]["input"][0]["content"][0]["file_id"] == upstream
    assert sent["body"]["input"][2]["output"][0]["file_id"] == upstream
    assert mine not in sent["raw_body"]

    fake_upstream.clear()
    training = await upload(demo_client, ALICE, TRAINING, "fine-tune")
    items = [{"role": "user", "content": [{"type": "input_file", "file_id": training}]}]
    refused = await demo_client.post(
        RESPONSES, json={"model": "gpt-4o-mini", "input": items}, headers=auth(ALICE)
    )
    assert refused.status_code == 403, refused.text
    assert "cannot be used as model input" in refused.json()["error"]["message"]
    assert model_calls(fake_upstream) == []
    (denial,) = [r for r in audit_records(settings) if r.get("denial_reasons")]
    assert denial["files"][0]["purpose"] == "fine-tune"


async def test_inline_file_data_is_analysed_like_any_text(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Inline text file data is decoded and redacted before it leaves; inline binary the
    gateway cannot read (a PDF) is refused by the default redaction policy."""
    text = base64.b64encode(b"contact maria.gonzales@globex.example today").decode()
    part = {
        "type": "input_file",
        "filename": "a.txt",
        "file_data": f"data:text/plain;base64,{text}",
    }
    body = {"model": "gpt-4o-mini", "input": [{"role": "user", "content": [part]}]}
    ok = await demo_client.post(RESPONSES, json=body, headers=auth(ALICE))
    assert ok.status_code == 200, ok.text
    (sent,) = model_calls(fake_upstream)
    data = sent["body"]["input"][0]["content"][0]["file_data"].split(",", 1)[1]
    assert "globex" not in base64.b64decode(data).decode()

    fake_upstream.clear()
    pdf = base64.b64encode(b"%PDF-1.7\n\x00\x01\x02binary").decode()
    part = {
        "type": "input_file",
        "filename": "a.pdf",
        "file_data": f"data:application/pdf;base64,{pdf}",
    }
    body = {"model": "gpt-4o-mini", "input": [{"role": "user", "content": [part]}]}
    refused = await demo_client.post(RESPONSES, json=body, headers=auth(ALICE))
    assert refused.status_code == 403, refused.text
    assert model_calls(fake_upstream) == []

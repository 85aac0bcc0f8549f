"""The files stage: file ids in a model request resolved to the upstream's, or refused."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadRequest, NotFound, PolicyDenied
from gateway.finetune.registry import ERROR, PROCESSED, UPLOADED, FileEntry
from gateway.identity import Principal
from gateway.metrics import StageTimer
from gateway.pipeline import Caller, ModelCall, run
from gateway.pipeline.chat import parse_chat
from gateway.pipeline.files import file_references, recheck_held, resolve_files
from gateway.pipeline.values import Authorized, FileDecision
from gateway.policy import FinetuneDecision

from ..test_pipeline import ALLOW, CALLER, Harness, chat_call


def entry(file_id: str, owner: str = "alice", **changes: Any) -> FileEntry:
    base = FileEntry(
        id=file_id,
        owner=owner,
        purpose="user_data",
        filename="notes.txt",
        bytes=10,
        sha256="0" * 64,
        created_at=0,
        status=PROCESSED,
        upstream_id=f"up-{file_id}",
    )
    return dataclasses.replace(base, **changes)


class FakeFiles:
    """The registry (owner-checked) and ``gateway.file_inputs`` (purposes)."""

    def __init__(
        self,
        *entries: FileEntry,
        purposes: tuple[str, ...] = ("user_data",),
        governed: frozenset[str] = frozenset(),
    ) -> None:
        self.entries = {e.id: e for e in entries}
        self.purposes = purposes
        self.governed = governed
        self.asked: list[str] = []
        self.rechecked: list[str] = []

    async def file(self, owner: str, file_id: str) -> FileEntry | None:
        self.asked.append(file_id)
        found = self.entries.get(file_id)
        return found if found is not None and found.owner == owner else None

    async def decide(
        self, principal: Principal, action: str, model: str, files: list[FileEntry]
    ) -> FileDecision:
        bad = sorted({f.purpose for f in files if f.purpose not in self.purposes})
        return FileDecision(not bad, tuple(f"purpose {p}" for p in bad), "dec-files")

    async def recheck(
        self, caller: Caller, endpoint: str, model: str, entry: FileEntry
    ) -> FinetuneDecision:
        self.rechecked.append(entry.id)
        if entry.id not in self.governed:
            return FinetuneDecision(True, (), (), "dec-recheck")
        overlap = {"kind": "overlap", "doc_id": "memo", "visible": False}
        reasons = ("lines [1] overlap 1 governed document(s) that may not be used for training",)
        return FinetuneDecision(False, reasons, (overlap,), "dec-recheck")


def harness(files: FakeFiles | None) -> Harness:
    h = Harness()
    h.ports = dataclasses.replace(h.ports, files=files)
    return h


def file_part(file_id: str) -> dict[str, Any]:
    return {"type": "file", "file": {"file_id": file_id}}


def parts_call(*parts: dict[str, Any]) -> ModelCall:
    content = [{"type": "text", "text": "hi"}, *parts]
    raw = {"model": "m", "messages": [{"role": "user", "content": content}]}
    return parse_chat(json.dumps(raw).encode(), {})


def test_every_file_id_and_file_ids_key_is_a_reference() -> None:
    """Chat parts, Responses parts, tool outputs, containers and prompt variables are all
    found by key; metadata (the caller's free-form map) names no file."""
    body = {
        "messages": [{"content": [file_part("f1")]}],
        "input": [
            {"content": [{"type": "input_file", "file_id": "f2"}, {"file_id": None}]},
            {"type": "function_call_output", "output": [{"type": "input_image", "file_id": "f3"}]},
        ],
        "tools": [{"type": "code_interpreter", "container": {"file_ids": ["f4", "f5"]}}],
        "prompt": {"variables": {"doc": {"type": "input_file", "file_id": "f6"}}},
        "metadata": {"file_id": "not-a-file"},
    }
    refs = file_references(body)
    assert [r.file_id for r in refs] == ["f1", "f2", "f3", "f4", "f5", "f6"]
    assert refs[0].label == "messages[0].content[0].file.file_id"
    assert refs[3].label == "tools[0].container.file_ids[0]"


@pytest.mark.parametrize(
    "body", [{"input": [{"file_id": 7}]}, {"tools": [{"file_ids": "f1"}]}, {"x": {"file_ids": [1]}}]
)
def test_a_file_id_that_is_not_a_string_is_a_400(body: dict[str, Any]) -> None:
    """A non-string id (or a file_ids that is not a list of strings) is refused."""
    with pytest.raises(BadRequest) as caught:
        file_references(body)
    assert caught.value.code == "invalid_type"


@given(st.recursive(st.text(max_size=5) | st.integers(), lambda c: st.lists(c, max_size=3)))
def test_bodies_without_file_keys_name_no_file(value: Any) -> None:
    """Anything without a file_id / file_ids key names no file."""
    assert file_references({"messages": [{"content": value}], "metadata": {"file_id": "x"}}) == []


async def test_own_file_is_replaced_by_the_upstream_id_and_recorded() -> None:
    """The caller's processed user_data file goes upstream under its upstream id; the
    request record lists it."""
    h = harness(FakeFiles(entry("file-a")))
    await run(h.ports, CALLER, parts_call(file_part("file-a")), StageTimer(h.ports.metrics))
    await h.drain()
    ((_, sent),) = h.upstream.sent
    content = json.loads(sent)["messages"][0]["content"]
    assert content[1] == {"type": "file", "file": {"file_id": "up-file-a"}}
    record = h.audit.records[0][1]
    assert record["files"] == [
        {"file_id": "file-a", "upstream_file_id": "up-file-a", "purpose": "user_data"}
    ]


async def test_another_callers_file_and_an_unknown_id_get_the_same_404() -> None:
    """Bob's file and an id nobody has are the same 404 (no oracle), audited, never sent."""
    answers = []
    for file_id in ("file-bob", "file-nobody"):
        h = harness(FakeFiles(entry("file-bob", owner="bob")))
        with pytest.raises(NotFound) as caught:
            await run(h.ports, CALLER, parts_call(file_part(file_id)), StageTimer(h.ports.metrics))
        assert h.upstream.sent == []
        ((_, record),) = h.audit.records
        assert (record["allowed"], record["refused"], record["status"]) == (
            False,
            "file_not_found",
            404,
        )
        assert record["file_id"] == file_id
        error = caught.value.to_openai()["error"]
        answers.append({**error, "message": error["message"].replace(file_id, "ID")})
    assert answers[0] == answers[1]
    assert answers[0]["code"] == "file_not_found"
    assert answers[0]["param"] == "messages[0].content[1].file.file_id"


async def test_without_a_resolver_every_file_id_is_refused() -> None:
    """Fail closed: no file resolver, no file id goes upstream."""
    h = harness(None)
    with pytest.raises(NotFound):
        await run(h.ports, CALLER, parts_call(file_part("file-a")), StageTimer(h.ports.metrics))
    assert h.upstream.sent == []


async def test_an_upstream_id_sent_directly_is_unknown() -> None:
    """The upstream's id of the caller's own file is not a gateway id: 404."""
    h = harness(FakeFiles(entry("file-a")))
    with pytest.raises(NotFound):
        await run(h.ports, CALLER, parts_call(file_part("up-file-a")), StageTimer(h.ports.metrics))
    assert h.upstream.sent == []


async def test_purpose_policy_refuses_training_files() -> None:
    """A fine-tune file is refused as model input (403 with the policy's reasons)."""
    h = harness(FakeFiles(entry("file-t", purpose="fine-tune")))
    with pytest.raises(PolicyDenied) as caught:
        await run(h.ports, CALLER, parts_call(file_part("file-t")), StageTimer(h.ports.metrics))
    assert "purpose fine-tune" in caught.value.message
    ((_, record),) = h.audit.records
    assert record["denial_reasons"] == ["purpose fine-tune"]
    assert "dec-files" in record["policy_decision_ids"]
    assert h.upstream.sent == []


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"status": UPLOADED, "upstream_id": None}, BadRequest, "file_not_ready"),
        ({"status": ERROR, "error_status": 403, "status_details": "x"}, PolicyDenied, None),
        (
            {"status": ERROR, "error_status": 400, "error_code": "invalid_file_format"},
            BadRequest,
            None,
        ),
    ],
)
async def test_own_file_not_processed_is_refused(
    changes: dict[str, Any], error: type[Exception], code: str | None
) -> None:
    """A file still scanned, or refused by its scan, never goes upstream."""
    h = harness(FakeFiles(entry("file-a", **changes)))
    with pytest.raises(error) as caught:
        await resolve_files(
            h.ports,
            Authorized(CALLER, parts_call(file_part("file-a")), ALLOW),
            StageTimer(h.ports.metrics),
        )
    if code is not None:
        assert getattr(caught.value, "code", None) == code
    assert h.audit.records[0][1]["file_id"] == "file-a"


async def test_a_body_without_files_asks_nothing() -> None:
    """No file reference: no registry read, no policy call, the call unchanged."""
    files = FakeFiles()
    h = harness(files)
    call = chat_call()
    authorized = Authorized(Caller(CALLER.principal, "r"), call, ALLOW)
    assert await resolve_files(h.ports, authorized, StageTimer(h.ports.metrics)) is authorized
    assert files.asked == []


async def test_a_file_governed_since_its_scan_is_refused_and_audited() -> None:
    """A file the re-check refuses: 403 finetune_data_governed with the policy's reasons,
    one request record naming the file, nothing upstream; files the purpose policy
    refused are never re-checked."""
    h = harness(FakeFiles(entry("file-a"), entry("file-b"), governed=frozenset({"file-b"})))
    call = parts_call(file_part("file-a"), file_part("file-b"))
    with pytest.raises(PolicyDenied) as caught:
        await run(h.ports, CALLER, call, StageTimer(h.ports.metrics))
    assert caught.value.code == "finetune_data_governed"
    assert caught.value.param == "messages[0].content[2].file.file_id"
    assert "overlap 1 governed document(s)" in caught.value.message
    ((_, record),) = h.audit.records
    assert record["allowed"] is False
    assert record["file_id"] == "file-b"
    assert record["status"] == 403
    assert "dec-recheck" in record["policy_decision_ids"]
    assert h.upstream.sent == []

    training = harness(FakeFiles(entry("file-t", purpose="fine-tune")))
    with pytest.raises(PolicyDenied):
        await run(
            training.ports, CALLER, parts_call(file_part("file-t")), StageTimer(h.ports.metrics)
        )
    assert training.ports.files is not None
    assert isinstance(training.ports.files, FakeFiles)
    assert training.ports.files.rechecked == []


async def test_held_files_are_rechecked_once_and_a_governed_one_refuses() -> None:
    """Files a continued conversation holds are re-checked unless this request named them
    (re-checked already); a governed one is a 403 on the given param, audited with its id."""
    files = FakeFiles(entry("file-a"), entry("file-b"), governed=frozenset({"file-b"}))
    h = harness(files)
    named = dataclasses.replace(
        parts_call(),
        files=({"file_id": "file-a", "upstream_file_id": "up-file-a", "purpose": "user_data"},),
    )
    authorized = Authorized(CALLER, named, ALLOW)
    timer = StageTimer(h.ports.metrics)
    await recheck_held(h.ports, authorized, ["file-a"], "previous_response_id", timer)
    assert (files.rechecked, h.audit.records) == ([], [])
    with pytest.raises(PolicyDenied) as caught:
        await recheck_held(h.ports, authorized, ["file-b"], "previous_response_id", timer)
    assert (caught.value.code, caught.value.param) == (
        "finetune_data_governed",
        "previous_response_id",
    )
    ((_, record),) = h.audit.records
    assert (record["file_id"], record["refused"], record["status"]) == (
        "file-b",
        "finetune_data_governed",
        403,
    )
    assert record["files"] == list(named.files)


@pytest.mark.parametrize(
    "held",
    [None, entry("file-h", status=ERROR), entry("file-h", owner="bob")],
    ids=["deleted", "error", "another owner's"],
)
async def test_a_held_file_that_cannot_be_checked_refuses(held: FileEntry | None) -> None:
    """Deleted, refused or not the caller's: the held text cannot be checked, so a 403
    asking for a new conversation, audited with the id; nothing re-checked."""
    files = FakeFiles(*([held] if held else []))
    h = harness(files)
    authorized = Authorized(CALLER, parts_call(), ALLOW)
    with pytest.raises(PolicyDenied) as caught:
        await recheck_held(
            h.ports, authorized, ["file-h"], "previous_response_id", StageTimer(h.ports.metrics)
        )
    assert caught.value.code == "conversation_file_unavailable"
    assert "start a new conversation" in caught.value.message
    ((_, record),) = h.audit.records
    assert (record["file_id"], record["refused"]) == ("file-h", "conversation_file_unavailable")
    assert files.rechecked == []

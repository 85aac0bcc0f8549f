"""The Responses call on the pipeline's stages, driven with fakes (no services)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from gateway.errors import NotFound, PolicyDenied
from gateway.hashing import sha256_hex
from gateway.metrics import StageTimer
from gateway.policy import PolicyEngine
from gateway.responses.endpoint import compose_responses, parse_responses
from gateway.responses.run import chain_files, run_responses
from gateway.responses.upstream import OwnedUpstream
from gateway.upstream import UpstreamResponse, UpstreamStream
from tests.unit.test_pipeline import CALLER, FakeContext, Harness


class FakeEngine:
    """``gateway.responses.decision`` as a fixed answer; remembers what it was asked."""

    def __init__(self, allow: bool = True, store: bool = True, reasons: list[str] | None = None):
        self.result = {"allow": allow, "store": store, "reasons": reasons or []}
        self.asked: list[dict[str, Any]] = []

    async def query(self, package: str, rule: str, input_data: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(input_data)
        return {"result": self.result, "decision_id": "dec-r"}


async def call_through(
    h: Harness, engine: FakeEngine, owners: MemoryOwners, body: dict[str, Any]
) -> Any:
    call, request = parse_responses(json.dumps({"model": "m", **body}).encode(), {})
    answer = await run_responses(
        h.ports,
        cast(PolicyEngine, engine),
        owners,
        CALLER,
        call,
        request,
        StageTimer(h.ports.metrics),
    )
    await h.drain()
    return answer


class MemoryOwners:
    """``gateway.responses.owners.Owners`` in a dict: the first owner of an id keeps it."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str | None]] = {}
        self.files: dict[str, tuple[str, ...]] = {}

    async def record(
        self,
        owner: str,
        response_id: str,
        body_sha256: str | None = None,
        files: Sequence[str] = (),
    ) -> None:
        if response_id not in self.entries:
            self.entries[response_id] = (owner, body_sha256)
            self.files[response_id] = tuple(files)

    async def owns(self, owner: str, response_id: str) -> bool:
        return await self.held(owner, response_id) is not None

    async def held(self, owner: str, response_id: str) -> tuple[str, ...] | None:
        entry = self.entries.get(response_id)
        return self.files[response_id] if entry is not None and entry[0] == owner else None

    async def forget(self, owner: str, response_id: str) -> None:
        if await self.owns(owner, response_id):
            del self.entries[response_id]


@pytest.fixture
def owners() -> MemoryOwners:
    return MemoryOwners()


async def test_policy_refusal_is_audited_with_its_reasons(owners: MemoryOwners) -> None:
    """background refused by gateway.responses: a 403 with the reason, one denial record
    naming the decision, nothing upstream; the policy saw the request's options."""
    h = Harness()
    engine = FakeEngine(allow=False, reasons=["no background"])
    with pytest.raises(PolicyDenied, match="no background"):
        await call_through(h, engine, owners, {"input": "hi", "background": True})
    ((kind, record),) = h.audit.records
    assert (kind, record["allowed"], record["denial_reasons"]) == (
        "request",
        False,
        ["no background"],
    )
    assert record["policy_decision_ids"] == ["dec-r"]
    assert h.upstream.sent == []
    (asked,) = engine.asked
    assert asked["background"] is True
    assert asked["store"] is None
    assert asked["action"] == "responses.create"


async def test_another_callers_previous_response_is_a_404(owners: MemoryOwners) -> None:
    """previous_response_id not recorded as the caller's: 404 like a missing one, audited
    as refused not_owner with the id; nothing upstream."""
    await owners.record("bob", "resp_bob")
    h = Harness()
    with pytest.raises(NotFound) as caught:
        await call_through(h, FakeEngine(), owners, {"previous_response_id": "resp_bob"})
    assert caught.value.param == "previous_response_id"
    assert caught.value.code == "previous_response_not_found"
    ((_, record),) = h.audit.records
    assert record["refused"] == "not_owner"
    assert record["response_id"] == "resp_bob"
    assert h.upstream.sent == []


@pytest.mark.parametrize(
    ("allowed", "asked", "sent"),
    [(True, None, None), (True, False, False), (False, None, False), (False, False, False)],
)
async def test_store_is_false_upstream_where_policy_says(
    owners: MemoryOwners, allowed: bool, asked: bool | None, sent: bool | None
) -> None:
    """The caller's store choice passes where allowed; otherwise store: false is sent."""
    h = Harness()
    body: dict[str, Any] = {"input": "hi"}
    if asked is not None:
        body["store"] = asked
    await call_through(h, FakeEngine(store=allowed), owners, body)
    ((_, upstream_body),) = h.upstream.sent
    assert json.loads(upstream_body).get("store") == sent


async def test_context_goes_before_the_callers_instructions(owners: MemoryOwners) -> None:
    """The composed context leads instructions; the caller's own follow after a blank line;
    gateway_ metadata never leaves."""
    h = Harness(context=FakeContext({"role": "system", "content": "CTX"}))
    body = {"input": "hi", "instructions": "Be brief.", "metadata": {"gateway_retrieval": "on"}}
    await call_through(h, FakeEngine(), owners, body)
    ((path, upstream_body),) = h.upstream.sent
    sent = json.loads(upstream_body)
    assert path == "responses"
    assert sent["instructions"] == "CTX\n\nBe brief."
    assert "metadata" not in sent


def test_compose_without_context_keeps_the_body() -> None:
    """No context: instructions are the caller's, untouched."""
    body = {"model": "m", "input": "x", "instructions": "mine"}
    assert compose_responses(body, None) == body


async def test_owned_upstream_records_the_caller_of_each_id(owners: MemoryOwners) -> None:
    """A relayed response's id becomes the caller's, linked to the upstream body's hash."""

    class Answering:
        async def post_json(self, path: str, body: bytes) -> Any:
            return UpstreamResponse(200, {}, b'{"id": "resp_1", "object": "response"}')

        async def stream_json(self, path: str, body: bytes) -> Any:
            raise AssertionError("not streamed")

    wrapped = OwnedUpstream(Answering(), owners, "alice", ("file-a",))
    await wrapped.post_json("responses", b"{}")
    assert await owners.held("alice", "resp_1") == ("file-a",)
    assert not await owners.owns("bob", "resp_1")
    assert owners.entries["resp_1"][1] == sha256_hex(b"{}")


def test_a_conversation_holds_its_named_files_then_those_held_before() -> None:
    """Each file once, this request's first; nothing named or held: none."""
    assert chain_files(["b", "a", "b"], ["c", "a", "d"]) == ("b", "a", "c", "d")
    assert chain_files([], ["c"]) == ("c",)
    assert chain_files([], []) == ()


async def test_a_streamed_id_is_recorded_before_its_event_is_relayed(
    owners: MemoryOwners,
) -> None:
    """The caller gets the ``response.created`` event only once its id is recorded as theirs
    (with the files its conversation holds); the bytes pass through unchanged."""
    events = [
        f'event: {kind}\ndata: {{"type":"{kind}","response":{{"id":"resp_9"}}}}\n\n'.encode()
        for kind in ("response.created", "response.completed")
    ]

    async def chunks() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    class Streaming:
        async def post_json(self, path: str, body: bytes) -> Any:
            raise AssertionError("not posted")

        async def stream_json(self, path: str, body: bytes) -> Any:
            return UpstreamStream(200, {}, chunks())

    owned = OwnedUpstream(Streaming(), owners, "alice", ("file-a",))
    stream = await owned.stream_json("responses", b"{}")
    relayed = []
    async for chunk in stream.chunks:
        assert await owners.held("alice", "resp_9") == ("file-a",)
        relayed.append(chunk)
    assert b"".join(relayed) == b"".join(events)

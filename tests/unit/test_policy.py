"""The OPA adapter's one HTTP client and error map, against a local stand-in server.

The real OPA is exercised in tests/integration; these pin the transport behaviour:
what is retried, and that every failure fails closed as DependencyUnavailable.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.errors import DependencyUnavailable, PolicyUntranslatable
from gateway.identity import Principal
from gateway.policy import PolicyEngine, parse_authz_decision

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALICE = Principal(subject="alice", groups=("engineering",))


@asynccontextmanager
async def opa(handler: Handler) -> AsyncIterator[tuple[PolicyEngine, list[str]]]:
    """A server answering every path with ``handler``, a PolicyEngine on it, the paths seen."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        PolicyEngine(str(server.make_url("")), timeout_s=2) as engine,
    ):
        yield engine, seen


async def test_a_decision_posts_the_input_to_the_data_api() -> None:
    """``query`` posts ``{"input": ...}`` to /v1/data/<package path>/<rule>."""
    bodies: list[object] = []

    async def answer(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({"result": True, "decision_id": "d1"})

    async with opa(answer) as (engine, seen):
        response = await engine.query("gateway.authz", "allow", {"a": 1})
    assert response == {"result": True, "decision_id": "d1"}
    assert seen == ["/v1/data/gateway/authz/allow"]
    assert bodies == [{"input": {"a": 1}}]


async def test_a_server_error_is_retried_once_then_fails_closed() -> None:
    """A 500 is tried once more; a second 500 is DependencyUnavailable naming the rule."""

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async with opa(broken) as (engine, seen):
        with pytest.raises(DependencyUnavailable, match=r"cannot evaluate gateway\.authz\.allow"):
            await engine.query("gateway.authz", "allow", {})
    assert len(seen) == 2


@pytest.mark.parametrize(
    "answer",
    [
        web.Response(status=200, text="not json", content_type="application/json"),
        web.Response(status=404, text="{}", content_type="application/json"),
        web.json_response({"decision_id": "d"}),
    ],
)
async def test_unusable_answers_fail_closed(answer: web.Response) -> None:
    """A body that is not JSON, an error status or a missing result is never a decision."""

    async def reply(request: web.Request) -> web.Response:
        return answer

    async with opa(reply) as (engine, _):
        with pytest.raises(DependencyUnavailable):
            await engine.authorize(ALICE, "chat.completions")


async def test_an_unreachable_opa_fails_closed_and_is_not_healthy() -> None:
    """Connection refused: decisions raise DependencyUnavailable and health is False."""
    async with PolicyEngine("http://127.0.0.1:1", timeout_s=1) as engine:
        with pytest.raises(DependencyUnavailable, match="opa unavailable"):
            await engine.query("gateway.authz", "allow", {})
        assert await engine.healthy() is False


async def test_a_rejected_compile_is_untranslatable_with_opas_reasons() -> None:
    """OPA's 400 on the data-filter compile names the Rego it could not translate."""
    error = {"errors": [{"message": "unsupported", "location": {"file": "r.rego", "row": 3}}]}

    async def reject(request: web.Request) -> web.Response:
        assert request.headers["Accept"].startswith("application/vnd.opa.ucast")
        return web.json_response(error, status=400)

    async with opa(reject) as (engine, seen):
        with pytest.raises(PolicyUntranslatable, match=r"unsupported \(r\.rego:3\)"):
            await engine.compile_filter("gateway.retrieval", "allow", {})
    assert seen == ["/v1/compile/gateway/retrieval/allow"]


async def test_batched_redaction_decisions_fail_closed_when_one_is_undefined() -> None:
    """One query for all contexts; a shorter answer (an undefined decision) is refused."""

    async def short(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        assert len(body["input"]["items"]) == 2
        return web.json_response({"result": [{"results": [{}]}]})

    async with opa(short) as (engine, seen):
        with pytest.raises(DependencyUnavailable, match=r"gateway\.redaction"):
            await engine.redaction_rules(ALICE, [{"source": "a"}, {"source": "b"}])
    assert seen == ["/v1/query"]


@pytest.mark.parametrize("corpora", ["hr", [1, 2], {"a": 1}])
def test_malformed_corpora_restriction_fails_closed(corpora: Any) -> None:
    """A corpora restriction of the wrong type is an error, never 'all corpora'."""
    response = {"result": {"allow": True, "retrieval": {"enabled": True, "corpora": corpora}}}
    with pytest.raises(DependencyUnavailable, match="wrong shape"):
        parse_authz_decision(response)


def _listing(modules: list[tuple[str, str]]) -> dict[str, Any]:
    """``GET /v1/policies`` as OPA answers it: each module with its (large) AST."""
    return {
        "result": [
            {"id": i, "raw": raw, "ast": {"package": {"path": [i]}, "rules": [{"x": 1}] * 50}}
            for i, raw in modules
        ]
    }


async def test_the_revision_digests_the_module_texts_and_config_in_any_order() -> None:
    """The revision is the digest of the sorted (id, text) pairs and the config: OPA's
    listing order and the ASTs do not move it, a module's text does."""
    from gateway.hashing import canonical_json, sha256_hex

    modules = [("b.rego", "package b"), ("a.rego", "package a")]
    config = {"finetune": {"min_shared": 2}}
    listings = [_listing(modules), _listing(modules[::-1]), _listing([modules[0]])]

    async def reply(request: web.Request) -> web.Response:
        if request.path == "/v1/policies":
            return web.json_response(listings.pop(0))
        return web.json_response({"result": config})

    async with opa(reply) as (engine, _):
        first, reordered, fewer = [await engine.revision() for _ in range(3)]
    expected = sha256_hex(canonical_json([sorted(modules), config]))[:16]
    assert first == reordered == expected
    assert fewer != first


@pytest.mark.parametrize(
    "listing",
    [{"result": [{"id": "a.rego"}]}, {"result": [{"id": 1, "raw": "x"}]}, {"result": 3}],
)
async def test_an_unreadable_policy_listing_fails_closed(listing: dict[str, Any]) -> None:
    """A listing without each module's id and text is DependencyUnavailable."""

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(listing if request.path == "/v1/policies" else {"result": {}})

    async with opa(reply) as (engine, _):
        with pytest.raises(DependencyUnavailable, match="policy revision"):
            await engine.revision()

"""Schemathesis fuzzes a running gateway (real stack) from its own OpenAPI document:
no 5xx, and every error in OpenAI's shape.

Bounded for CI: ``GATEWAY_FUZZ_EXAMPLES`` cases per operation and mode (default 15; 21
operations, positive and negative (schema-violating) data: ~630 requests, about a minute
on a quiet 2-core machine; 25 took 102 s for the positive half on a heavily shared one),
no stateful links. Set it to a few hundred for a deeper run, and ``GATEWAY_FUZZ_URL`` to
fuzz a gateway that is already running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from ..conftest import CAROL
from .conftest import start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "15"))
AUTH = {"Authorization": f"Bearer {CAROL}"}  # an auditor: the admin routes are reached too


@pytest.fixture(scope="module")
def fuzzed_gateway(
    request: pytest.FixtureRequest,
    stack_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """A gateway process on the real stack (or the one at ``GATEWAY_FUZZ_URL``)."""
    if url := os.environ.get("GATEWAY_FUZZ_URL"):
        yield SimpleNamespace(base_url=url.rstrip("/"))
        return
    # Its retrieval index must exist (an absent one is a 503): the session's demo corpus.
    request.getfixturevalue("demo_index")
    running = start_gateway(stack_env, tmp_path_factory.mktemp("fuzz"))
    yield running
    stop_gateway(running)


def openai_shaped_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx body is ``{"error": {"message", "type", "param", "code"}}``."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} with a non-JSON body") from exc
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code}: {body!r}"
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str), error
    assert isinstance(error["type"], str), error
    return True


def test_the_document_is_served_without_a_key(fuzzed_gateway: Any) -> None:
    """GET /openapi.json answers without credentials and describes the chat body."""
    response = httpx.get(f"{fuzzed_gateway.base_url}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert "requestBody" in chat
    assert "ChatCompletionRequest" in document["components"]["schemas"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_fails_or_answers_off_shape(fuzzed_gateway: Any, mode: GenerationMode) -> None:
    """Generated requests to every operation, valid and schema-violating: never a 5xx, and
    every error is OpenAI-shaped (failures are collected over all operations)."""
    schema = schemathesis.openapi.from_url(f"{fuzzed_gateway.base_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers=AUTH, timeout=30)
            case.validate_response(response, checks=[not_a_server_error, openai_shaped_error])

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 (reported below, per operation)
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())

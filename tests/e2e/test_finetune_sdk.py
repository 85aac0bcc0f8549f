"""Fine-tuning governance through the real ``gateway serve`` process and the openai SDK."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from ..conftest import ALICE, BOB
from ..integration.conftest import FakeUpstream
from ..integration.test_finetune import forwarded
from .conftest import E2E_INDEX_PREFIX, RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


def drop_registry(stack_env: dict[str, str]) -> None:
    """Delete the e2e gateways' fine-tune registry index (shared by every e2e test): each
    test starts from no files and jobs; the gateway creates the index again at start."""
    auth = (
        stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
        stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
    )
    url = f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/{E2E_INDEX_PREFIX}-finetune-v1"
    httpx.delete(url, auth=auth, params={"ignore_unavailable": "true"}).raise_for_status()


@pytest.fixture
def gateway(stack_env: dict[str, str], demo_index: str, tmp_path: Any) -> Iterator[RunningGateway]:
    """The e2e gateway, over an empty fine-tune registry."""
    drop_registry(stack_env)
    running = start_gateway(stack_env, tmp_path)
    yield running
    stop_gateway(running)


def settled(client: openai.OpenAI, file_id: str, timeout_s: float = 120.0) -> Any:
    """The file object once its background scan has ended."""
    deadline = time.monotonic() + timeout_s
    while (found := client.files.retrieve(file_id)).status == "uploaded":
        assert time.monotonic() < deadline, f"{file_id} still uploaded after {timeout_s} s"
        time.sleep(0.1)
    return found


def _line(answer: str) -> str:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages}) + "\n"


@pytest.fixture
def upstream(stack_env: dict[str, str]) -> FakeUpstream:
    fake = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    fake.clear()
    return fake


def test_upload_train_and_refuse(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """A clean file trains (proxied); runbook text ends in ``error`` and a job on it is a
    403, never forwarded, naming the document only to a caller who may retrieve it."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    clean = _line("Use slicing with a step of minus one to reverse a list.")
    uploaded = client.files.create(file=("clean.jsonl", clean.encode()), purpose="fine-tune")
    assert uploaded.status == "uploaded"
    assert settled(client, uploaded.id).status == "processed"
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]
    assert client.fine_tuning.jobs.retrieve(job.id).training_file == uploaded.id
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    paths = [r["path"] for r in forwarded(upstream)]
    assert "/v1/files" in paths
    assert "/v1/fine_tuning/jobs" in paths
    upstream.clear()

    runbook = _line(
        "Severity 1 incidents page the on-call security engineer immediately. The incident "
        "commander opens a dedicated channel and starts the incident log."
    )
    alice = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=ALICE, max_retries=0)
    bad = alice.files.create(file=("bad.jsonl", (clean + runbook).encode()), purpose="fine-tune")
    refused = settled(alice, bad.id)
    assert refused.status == "error"
    assert "acme-incident-runbook" in refused.status_details
    assert "lines [2]" in refused.status_details
    assert "on-call" not in refused.status_details
    with pytest.raises(openai.PermissionDeniedError, match="acme-incident-runbook"):
        alice.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=bad.id)
    hidden = client.files.create(
        file=("bad.jsonl", (clean + runbook).encode()), purpose="fine-tune"
    )
    details = settled(client, hidden.id).status_details
    assert "overlap 1 governed" in details
    assert "acme-incident-runbook" not in details
    assert forwarded(upstream) == []
    assert [f.id for f in client.files.list().data] == [hidden.id, uploaded.id]


def test_owner_downloads_own_file_others_cannot(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """files.content returns the owner's uploaded bytes; to anyone else it does not exist."""
    bob = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    alice = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=ALICE, max_retries=0)
    clean = _line("A list comprehension builds a new list from an iterable.")
    uploaded = bob.files.create(file=("mine.jsonl", clean.encode()), purpose="fine-tune")
    assert settled(bob, uploaded.id).status == "processed"
    assert bob.files.content(uploaded.id).content == clean.encode()
    paths = [r["path"] for r in forwarded(upstream)]
    assert any(p.startswith("/v1/files/") and p.endswith("/content") for p in paths)
    upstream.clear()
    with pytest.raises(openai.NotFoundError):
        alice.files.content(uploaded.id)
    assert forwarded(upstream) == []

"""Fine-tuning governance through the real ``gateway serve`` process and the openai SDK."""

import json

import openai
import pytest

from ..conftest import ALICE, BOB
from ..integration.conftest import FakeUpstream
from ..integration.test_finetune import forwarded
from .conftest import RunningGateway

pytestmark = pytest.mark.e2e


def _line(answer: str) -> str:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages}) + "\n"


@pytest.fixture
def upstream(stack_env: dict[str, str]) -> FakeUpstream:
    fake = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    fake.clear()
    return fake


def test_upload_train_and_refuse(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """A clean file trains (proxied); runbook text is refused with 403 and never forwarded,
    naming the document only to a caller who may retrieve it."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    clean = _line("Use slicing with a step of minus one to reverse a list.")
    uploaded = client.files.create(file=("clean.jsonl", clean.encode()), purpose="fine-tune")
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
    with pytest.raises(openai.PermissionDeniedError, match="acme-incident-runbook") as refused:
        alice.files.create(file=("bad.jsonl", (clean + runbook).encode()), purpose="fine-tune")
    assert "lines [2]" in str(refused.value)
    assert "on-call" not in str(refused.value)
    with pytest.raises(openai.PermissionDeniedError, match="overlap 1 governed") as hidden:
        client.files.create(file=("bad.jsonl", (clean + runbook).encode()), purpose="fine-tune")
    assert "acme-incident-runbook" not in str(hidden.value)
    assert forwarded(upstream) == []
    assert [f.id for f in client.files.list().data] == [uploaded.id]


def test_owner_downloads_own_file_others_cannot(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """files.content returns the owner's uploaded bytes; to anyone else it does not exist."""
    bob = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    alice = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=ALICE, max_retries=0)
    clean = _line("A list comprehension builds a new list from an iterable.")
    uploaded = bob.files.create(file=("mine.jsonl", clean.encode()), purpose="fine-tune")
    assert bob.files.content(uploaded.id).content == clean.encode()
    assert f"/v1/files/{uploaded.id}/content" in [r["path"] for r in forwarded(upstream)]
    upstream.clear()
    with pytest.raises(openai.NotFoundError):
        alice.files.content(uploaded.id)
    assert forwarded(upstream) == []

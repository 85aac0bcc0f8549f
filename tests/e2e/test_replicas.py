"""Two ``gateway serve`` replicas on one stack, behind a round-robin proxy.

Each replica has its own audit directory; they share Elasticsearch (chunks, the
fine-tune registry) and OPA. The proxy is an httpx transport that sends each request to
the next replica in turn and remembers which one served it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ..conftest import BOB, REPO
from ..integration.conftest import FakeUpstream
from .conftest import RunningGateway, gateway_executable, start_gateway, stop_gateway
from .test_finetune_sdk import drop_registry, settled

pytestmark = pytest.mark.e2e


class RoundRobin(httpx.BaseTransport):
    """The proxy: each request goes to the next replica in turn."""

    def __init__(self, replicas: list[RunningGateway]) -> None:
        self._replicas = replicas
        self._next = 0
        self._inner = httpx.HTTPTransport()
        self.served: list[tuple[str, str, int]] = []
        """(method, path, replica index) of every request, in order."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        index = self._next
        self._next = (index + 1) % len(self._replicas)
        target = httpx.URL(self._replicas[index].base_url)
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        self.served.append((request.method, request.url.path, index))
        return self._inner.handle_request(request)

    def skip_to(self, index: int) -> None:
        """Make replica ``index`` serve the next request (as a balancer well might)."""
        self._next = index

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def replicas(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path
) -> Iterator[list[RunningGateway]]:
    drop_registry(stack_env)
    started: list[RunningGateway] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            # No Presidio workers: this test is about shared state, and two replicas'
            # spaCy models would double the start-up on the shared machine.
            started.append(
                start_gateway(
                    stack_env,
                    tmp_path / name,
                    GATEWAY_MESSAGE_PII_ANALYSIS="false",
                    GATEWAY_FINETUNE_PII_SCAN="false",
                )
            )
        yield started
    finally:
        for running in started:
            stop_gateway(running)


def _audit(directories: list[Path], *args: str) -> subprocess.CompletedProcess[str]:
    """``gateway audit ARGS`` over all the replicas' directories at once."""
    dirs = [arg for directory in directories for arg in ("--dir", str(directory))]
    return subprocess.run(
        [gateway_executable(), "audit", *args, *dirs, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_file_uploaded_via_one_replica_trains_via_the_other(
    replicas: list[RunningGateway], stack_env: dict[str, str]
) -> None:
    """Upload through replica a, the job through replica b; both replicas answer the
    file's status; both audit chains verify; exposure sees the chats of both."""
    upstream = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    upstream.clear()
    proxy = RoundRobin(replicas)
    with httpx.Client(transport=proxy, timeout=60) as http:
        client = openai.OpenAI(
            base_url="http://replicas/v1", api_key=BOB, max_retries=0, http_client=http
        )
        _train_across_replicas(client, proxy, upstream)
        served_chat = []
        for _ in range(2):
            answer = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "How many vacation days do we get?"}],
            )
            assert answer.http_response.status_code == 200
            served_chat.append(proxy.served[-1][2])
        assert sorted(served_chat) == [0, 1]

    directories = [running.audit_dir for running in replicas]
    exposed = _exposure(directories, "acme-vacation-policy")
    assert len(exposed) == 2
    assert {e["subject"] for e in exposed} == {"bob"}
    verified = _audit(directories, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    chains = {chain["directory"] for chain in report["chains"]}
    assert chains == {str(directory) for directory in directories}


def _train_across_replicas(
    client: openai.OpenAI, proxy: RoundRobin, upstream: FakeUpstream
) -> None:
    """Upload via replica 0; both see it processed; the job is created via replica 1."""
    line = {
        "messages": [
            {"role": "user", "content": "How do I reverse a list?"},
            {"role": "assistant", "content": "Use slicing with a step of minus one."},
        ]
    }
    uploaded = client.files.create(
        file=("t.jsonl", (json.dumps(line) + "\n").encode()), purpose="fine-tune"
    )
    assert proxy.served[-1] == ("POST", "/v1/files", 0)
    assert uploaded.status == "uploaded"
    assert settled(client, uploaded.id).status == "processed"
    statuses = {}
    for _ in range(2):  # two requests in a row: one to each replica
        status = client.files.retrieve(uploaded.id).status
        statuses[proxy.served[-1][2]] = status
    assert statuses == {0: "processed", 1: "processed"}
    proxy.skip_to(1)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert proxy.served[-1] == ("POST", "/v1/fine_tuning/jobs", 1)
    assert job.training_file == uploaded.id
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]
    assert any(r["path"] == "/v1/fine_tuning/jobs" for r in upstream.requests())


def _exposure(directories: list[Path], doc_id: str) -> list[dict[str, object]]:
    """Every prompt holding ``doc_id``, merged over the replicas' directories by one
    command (deadline: the records of a request may still be being appended)."""
    deadline = time.monotonic() + 30
    while True:
        result = _audit(directories, "exposure", doc_id)
        assert result.returncode == 0, result.stderr
        found: list[dict[str, object]] = json.loads(result.stdout)
        if len(found) >= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.5)

"""Fixtures over the real local stack: Elasticsearch, OPA and the recording fake upstream."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings, load_settings

from ..conftest import DEMO_KEYS


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a stopped dependency, as the gateway sees it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeUpstream:
    """Reads back what the recording fake upstream received."""

    def __init__(self, url: str) -> None:
        self.url = url

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_fake/requests").raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_fake/requests")
        response.raise_for_status()
        return list(response.json())


@pytest.fixture
def fake_upstream(stack_env: dict[str, str]) -> FakeUpstream:
    upstream = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    upstream.clear()
    return upstream


@pytest.fixture
def settings_for(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Build Settings for the real stack, with per-test index prefix and audit dir."""
    prefix = f"gateway-test-{uuid.uuid4().hex[:8]}"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "upstream_base_url": stack_env["GATEWAY_UPSTREAM_BASE_URL"],
            "upstream_api_key": stack_env["GATEWAY_UPSTREAM_API_KEY"],
            "elasticsearch_url": stack_env["GATEWAY_ELASTICSEARCH_URL"],
            "elasticsearch_username": stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME"),
            "elasticsearch_password": stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD"),
            "opa_url": stack_env["GATEWAY_OPA_URL"],
            "audit_dir": tmp_path / "audit",
            "api_keys_file": DEMO_KEYS,
            "index_prefix": prefix,
        }
        values.update(overrides)
        return load_settings(**values)

    yield build
    # Drop whatever this test indexed.
    auth = (
        stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
        stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
    )
    httpx.delete(f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/{prefix}-*", auth=auth)


@pytest.fixture
def settings(settings_for: Any) -> Settings:
    built: Settings = settings_for()
    return built


async def ingest_demo(index: Any) -> None:
    """Ingest the quickstart's demo corpus into ``index`` through the real pipeline."""
    from gateway.ingest.manifest import load_manifest
    from gateway.ingest.pipeline import IngestOptions, run_ingest

    from ..conftest import DEMO_CORPUS
    from ..fixtures.ingest.support import shared_analyzer

    manifest_path = DEMO_CORPUS / "manifest.yaml"
    options = IngestOptions(
        corpus="acme-handbook", manifest=load_manifest(manifest_path), exclude=(manifest_path,)
    )
    report = await run_ingest([DEMO_CORPUS], options, index=index, analyzer=shared_analyzer())
    assert report.ok, report.to_dict()


async def ingest_texts(
    index: Any,
    documents: dict[str, str],
    *,
    corpus: str = "ops",
    prune: bool = False,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Ingest ``documents`` (file name -> text) through the pipeline, with the manifest
    ``defaults`` (restricted text by default)."""
    from gateway.ingest.manifest import Manifest
    from gateway.ingest.pipeline import IngestOptions, run_ingest

    from ..fixtures.ingest.support import shared_analyzer

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in documents.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        manifest = Manifest.model_validate(
            {"defaults": defaults or {"classification": "restricted"}}
        )
        report = await run_ingest(
            [Path(tmp)],
            IngestOptions(corpus=corpus, manifest=manifest, prune=prune),
            index=index,
            analyzer=shared_analyzer(),
        )
    assert report.ok, report.to_dict()


# The context system message the gateway injects: one element per chunk.
INJECTED_DOCUMENT = re.compile(
    r'<document index="\d+" doc_id="([^"]*)"[^>]*>\n(.*?)\n</document>', re.S
)


def audit_records(settings: Settings, kind: str = "request") -> list[dict[str, Any]]:
    """Records of one kind from the local audit segments, in log order."""
    return [
        record
        for path in sorted(Path(settings.audit_dir).glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
        if (record := json.loads(line))["kind"] == kind
    ]


async def audit_records_soon(
    settings: Settings, kind: str, at_least: int, timeout_s: float = 5.0
) -> list[dict[str, Any]]:
    """``audit_records`` once there are ``at_least`` of them (or the timeout passed):
    outcome records are appended in the background, after the answer has gone out."""
    deadline = time.monotonic() + timeout_s
    while len(found := audit_records(settings, kind)) < at_least:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    return found


@pytest.fixture
async def demo_client(settings: Settings) -> AsyncIterator[Any]:
    """The gateway app in-process, over an index holding the ingested demo corpus."""
    from litestar.testing import AsyncTestClient

    from gateway.app import create_app
    from gateway.elastic import ChunkIndex

    async with ChunkIndex.from_settings(settings) as index:
        await ingest_demo(index)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.ingest.cli import app, render
from gateway.ingest.documents import Problem
from gateway.ingest.pipeline import IngestReport
from tests.conftest import DEMO_KEYS
from tests.fixtures.ingest.support import DOCS, MANIFEST


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Complete settings whose Elasticsearch is a closed local port."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GATEWAY_UPSTREAM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GATEWAY_AUDIT_DIR", str(tmp_path / "audit"))
    monkeypatch.setenv("GATEWAY_API_KEYS_FILE", str(DEMO_KEYS))
    monkeypatch.setenv("GATEWAY_ELASTICSEARCH_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GATEWAY_ELASTICSEARCH_TIMEOUT_S", "1")
    return monkeypatch


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_invalid_manifest_exits_2(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A manifest error is a configuration error: exit code 2, the field named."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("defaults: {classification: secret}\n", encoding="utf-8")
    code, _, err = invoke(DOCS, "--corpus", "acme-test", "--manifest", manifest)
    assert code == 2
    assert "defaults: classification: must be one of" in err


def test_corpus_mismatch_exits_2(env: pytest.MonkeyPatch) -> None:
    """--corpus differing from the manifest's corpus is refused with exit code 2."""
    code, _, err = invoke(DOCS, "--corpus", "other", "--manifest", MANIFEST)
    assert code == 2
    assert "differs" in err


def test_overlap_not_below_chunk_size_exits_2(env: pytest.MonkeyPatch) -> None:
    """An overlap as large as the chunk size is refused before any work."""
    code, _, err = invoke(DOCS, "--corpus", "c", "--chunk-tokens", "50", "--overlap", "50")
    assert code == 2
    assert "--overlap" in err


def test_missing_path_exits_2(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH that does not exist is a usage error (exit code 2)."""
    code, _, _ = invoke(tmp_path / "nope", "--corpus", "c")
    assert code == 2


def test_missing_settings_exit_2(env: pytest.MonkeyPatch) -> None:
    """Without the gateway settings, ingest stops with exit code 2 naming the setting."""
    env.delenv("GATEWAY_UPSTREAM_BASE_URL")
    code, _, err = invoke(DOCS, "--corpus", "acme-test", "--manifest", MANIFEST)
    assert code == 2
    assert "GATEWAY_UPSTREAM_BASE_URL" in err


def test_unreachable_elasticsearch_exits_1(env: pytest.MonkeyPatch) -> None:
    """Elasticsearch down: exit code 1 and a message naming it, before any analysis."""
    code, out, err = invoke(DOCS, "--corpus", "acme-test", "--manifest", MANIFEST)
    assert code == 1
    assert err.startswith("gateway: elasticsearch unavailable")
    assert out == ""


def test_summary_lists_problems_and_counts() -> None:
    """The human summary has the counts, the Presidio rate and each problem's place."""
    report = IngestReport(corpus="c", index="gateway-chunks-v1", files_seen=3, indexed=2)
    report.presidio.chars, report.presidio.seconds = 30_000, 2.0
    report.problems.append(Problem("data.jsonl", "invalid JSON", line=4))
    text = render(report)
    assert "files: 3 seen, 1 with errors" in text
    assert "documents: 2 indexed, 0 replaced, 0 skipped" in text
    assert "(15,000 chars/s)" in text
    assert "  data.jsonl:4: invalid JSON" in text

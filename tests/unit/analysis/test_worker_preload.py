"""Which engines a worker loads before ready: named in its environment, or sent as its
first frame when it was started before the gateway read its settings."""

from __future__ import annotations

import io

import pytest

from gateway.analysis import worker
from gateway.analysis.framing import PRELOAD_ENV, encode
from gateway.pii import presidio_import


@pytest.fixture
def imports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the Presidio import instead of running it (seconds, not needed here)."""
    done: list[str] = []
    monkeypatch.setattr(presidio_import, "import_presidio", lambda: done.append("presidio"))
    return done


def test_the_environment_names_the_engines(
    monkeypatch: pytest.MonkeyPatch, imports: list[str]
) -> None:
    """With the variable set, stdin is not read and nothing is imported ahead."""
    monkeypatch.setenv(PRELOAD_ENV, "lean,full")
    stdin = io.BytesIO(encode({"engine": "lean", "texts": []}))
    assert worker.requested_preload(stdin) == ["lean", "full"]
    assert stdin.tell() == 0
    assert imports == []


def test_a_worker_started_ahead_imports_then_reads_its_engines(
    monkeypatch: pytest.MonkeyPatch, imports: list[str]
) -> None:
    """Without the variable the worker imports Presidio, then takes its engines from
    the first frame; the jobs after it stay unread."""
    monkeypatch.delenv(PRELOAD_ENV, raising=False)
    job = encode({"engine": "lean", "texts": ["x"]})
    stdin = io.BytesIO(encode({"preload": ["full"]}) + job)
    assert worker.requested_preload(stdin) == ["full"]
    assert imports == ["presidio"]
    assert stdin.read() == job


def test_a_worker_started_ahead_and_not_needed_ends(
    monkeypatch: pytest.MonkeyPatch, imports: list[str]
) -> None:
    """Stdin closed before any frame (analysis is off): no engines, the worker exits."""
    monkeypatch.delenv(PRELOAD_ENV, raising=False)
    assert worker.requested_preload(io.BytesIO()) is None

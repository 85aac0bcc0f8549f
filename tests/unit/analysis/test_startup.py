"""Which PII workers ``gateway serve`` starts before it imports the application."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.analysis import startup
from gateway.analysis.framing import encode
from gateway.analysis.startup import pool_config, spawn_early
from gateway.settings import Settings, load_settings

ECHO = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
"""Stands in for a worker started ahead: returns what the gateway sent it."""


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: []\n")
    return load_settings(
        upstream_base_url="http://127.0.0.1:9", audit_dir=tmp_path, api_keys_file=keys, **overrides
    )


def test_spawn_early_starts_nothing_when_analysis_is_off(tmp_path: Path) -> None:
    """With message analysis and the fine-tune PII scan off, no worker is started."""
    settings = _settings(tmp_path, message_pii_analysis=False, finetune_pii_scan=False)
    assert spawn_early(settings) == []


def test_workers_preload_the_engine_their_first_job_needs(tmp_path: Path) -> None:
    """Chat analysis on: the lean engine loads before ready; only fine-tune scans: the
    full one; either way, with uploads scanned, the pattern engine of every type at the
    scan's floor; the configured worker count is kept."""
    assert pool_config(_settings(tmp_path, pii_workers=2)).preload == ("lean", "patterns:*@0.5")
    assert pool_config(_settings(tmp_path, pii_workers=2)).workers == 2
    scan_only = _settings(tmp_path, message_pii_analysis=False, finetune_pii_min_score=0.6)
    assert pool_config(scan_only).preload == ("full", "patterns:*@0.6")


def test_no_pattern_engine_is_preloaded_when_uploads_are_not_pattern_scanned(
    tmp_path: Path,
) -> None:
    """No fine-tune PII scan, or one forced through NER: only the chat engine loads."""
    assert pool_config(_settings(tmp_path, finetune_pii_scan=False)).preload == ("lean",)
    assert pool_config(_settings(tmp_path, finetune_pii_ner=True)).preload == ("lean",)


@pytest.fixture
def ahead(monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-c", ECHO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # as spawn() starts workers: stop_early kills the group
    )
    monkeypatch.setattr(startup, "_ahead", [process])
    yield process
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        assert stream is not None
        stream.close()


def test_the_worker_started_ahead_is_told_its_engines_and_counted(
    tmp_path: Path, ahead: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It is the first of the pool's workers and receives the preload frame; only the
    remaining workers are spawned."""
    spawned: list[object] = []
    monkeypatch.setattr(startup, "spawn", lambda python, preload: spawned.append(preload))
    workers = spawn_early(_settings(tmp_path, pii_workers=2))
    assert workers[0] is ahead
    assert spawned == [("lean", "patterns:*@0.5")]
    assert startup.take_ahead() == []
    assert ahead.stdin is not None
    ahead.stdin.close()
    assert ahead.stdout is not None
    assert ahead.stdout.read() == encode({"preload": ["lean", "patterns:*@0.5"]})


def test_the_worker_started_ahead_is_stopped_when_analysis_is_off(
    tmp_path: Path, ahead: subprocess.Popen[bytes]
) -> None:
    """Settings without PII analysis: the early worker is killed and reaped."""
    settings = _settings(tmp_path, message_pii_analysis=False, finetune_pii_scan=False)
    assert spawn_early(settings) == []
    assert ahead.returncode is not None
    assert ahead.stdin is not None
    assert ahead.stdin.closed

"""Which PII workers ``gateway serve`` starts before it imports the application."""

from __future__ import annotations

from pathlib import Path

from gateway.analysis.startup import pool_config, spawn_early
from gateway.settings import Settings, load_settings


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
    full one; the configured worker count is kept."""
    assert pool_config(_settings(tmp_path, pii_workers=2)).preload == ("lean",)
    assert pool_config(_settings(tmp_path, pii_workers=2)).workers == 2
    scan_only = _settings(tmp_path, message_pii_analysis=False)
    assert pool_config(scan_only).preload == ("full",)

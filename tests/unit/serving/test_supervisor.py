"""The supervisor's plan for ``gateway serve --workers N``: writer ids and PII budget."""

from pathlib import Path

import pytest

from gateway.analysis import default_workers
from gateway.serving.supervisor import Supervisor, pii_workers_each, writer_ids
from gateway.settings import Settings, load_settings
from tests.conftest import DEMO_KEYS


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(
        audit_dir=tmp_path / "audit",
        api_keys_file=DEMO_KEYS,
        upstream_base_url="http://127.0.0.1:9/v1",
        **overrides,
    )


def test_each_worker_gets_its_own_writer_id(tmp_path: Path) -> None:
    """Workers are w1..wN, or <id>-w1..<id>-wN under GATEWAY_AUDIT_WRITER_ID: all distinct."""
    assert writer_ids(_settings(tmp_path), 3) == ["w1", "w2", "w3"]
    named = writer_ids(_settings(tmp_path, audit_writer_id="gw-0"), 2)
    assert named == ["gw-0-w1", "gw-0-w2"]


def test_a_writer_id_too_long_for_its_workers_is_refused(tmp_path: Path) -> None:
    """A base id that leaves no room for the worker suffix fails before anything starts."""
    with pytest.raises(ValueError, match="writer id"):
        Supervisor(_settings(tmp_path, audit_writer_id="x" * 64), 2)


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 16])
def test_pii_budget_is_shared_out(workers: int) -> None:
    """Unconfigured, the workers' Presidio processes add up to the single-process default
    (or one each when there are more workers than that)."""
    each = pii_workers_each(workers)
    assert each >= 1
    assert each * workers <= max(default_workers(), workers)

"""deploy/local/stack.sh: what install wrote follows the current GATEWAY_STACK_* settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO

SCRIPT = REPO / "deploy" / "local" / "stack.sh"


def _es_config(stack: Path, port: str) -> str:
    env = {**os.environ, "GATEWAY_STACK_DIR": str(stack), "GATEWAY_STACK_ES_PORT": port}
    done = subprocess.run(
        ["bash", str(SCRIPT), "es-config"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _fake_install(tmp_path: Path) -> Path:
    stack = tmp_path / "stack"
    config = stack / "elasticsearch-8.19.21" / "config"
    config.mkdir(parents=True)
    (config / "elasticsearch.yml").write_text("http.port: 9200\n")
    return config / "elasticsearch.yml"


def test_es_port_follows_the_setting_after_install(tmp_path: Path) -> None:
    """A GATEWAY_STACK_ES_PORT changed after install is what elasticsearch.yml says."""
    written = _fake_install(tmp_path)
    _es_config(tmp_path / "stack", "9555")
    assert "http.port: 9555\n" in written.read_text()
    _es_config(tmp_path / "stack", "9556")
    text = written.read_text()
    assert "http.port: 9556\n" in text
    assert "9555" not in text


def test_es_paths_follow_the_stack_dir(tmp_path: Path) -> None:
    """Data and log directories are the current stack directory's."""
    written = _fake_install(tmp_path)
    _es_config(tmp_path / "stack", "9555")
    assert f"path.data: {tmp_path / 'stack'}/es-data" in written.read_text()


def test_start_rewrites_the_config() -> None:
    """Starting Elasticsearch writes its config first (the port is not install-only)."""
    source = SCRIPT.read_text()
    start = source[source.index("start_elasticsearch() {") :]
    start = start[: start.index("\n}\n")]
    assert "write_es_config" in start

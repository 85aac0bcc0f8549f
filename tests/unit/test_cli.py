"""The ``gateway`` command line: lazy subcommands, and what starting it imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import LAZY_COMMANDS, app
from tests.conftest import DEMO_KEYS, REPO

# Loaded by the subcommands or the application, never needed to print help or to
# start the PII workers: each costs tenths of a second to seconds of start-up.
HEAVY = {
    "aiohttp",
    "elastic_transport",
    "elasticsearch",
    "litestar",
    "numpy",
    "presidio_analyzer",
    "spacy",
    "thinc",
    "uvicorn",
}

_REPORT = (
    "import json, sys; "
    "print('MODULES=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
)


def _modules_loaded(script: str, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("MODULES=")), None)
    assert line is not None, done.stderr[-2000:]
    return set(json.loads(line.removeprefix("MODULES=")))


def test_help_imports_no_heavy_module() -> None:
    """``gateway --help`` lists every command without importing what the commands use."""
    script = (
        "import sys\nfrom gateway.cli import main\nsys.argv = ['gateway', '--help']\n"
        f"try:\n    main()\nexcept SystemExit:\n    pass\n{_REPORT}\n"
    )
    loaded = _modules_loaded(script)
    assert {"gateway", "typer"} <= loaded
    assert not loaded & HEAVY


def test_serve_starts_the_pii_workers_before_importing_anything_heavy(tmp_path: Path) -> None:
    """Everything ``gateway serve`` imports before it spawns the PII workers is light, so
    the model load (the longest step of start-up) begins at once."""
    script = (
        "import sys\nimport gateway.analysis.startup as startup\n"
        f"def spy(settings):\n    {_REPORT}\n    sys.exit(0)\n"
        "startup.spawn_early = spy\n"
        "from gateway.cli import main\nsys.argv = ['gateway', 'serve']\nmain()\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_UPSTREAM_BASE_URL": "http://127.0.0.1:9",
        "GATEWAY_AUDIT_DIR": str(tmp_path),
        "GATEWAY_API_KEYS_FILE": str(DEMO_KEYS),
    }
    loaded = _modules_loaded(script, env)
    assert "pydantic_settings" in loaded  # the spy ran after the settings were read
    assert not loaded & (HEAVY | {"jwt", "structlog", "cryptography"})


def test_serve_spawns_a_worker_before_typer_and_settings() -> None:
    """The console script starts the first PII worker before the command line and the
    settings are imported, so its model load overlaps them (``gateway.entry``)."""
    script = (
        "import sys\nimport gateway.analysis.startup as startup\n"
        f"def spy():\n    {_REPORT}\n    sys.exit(0)\n"
        "startup.spawn_ahead = spy\n"
        "from gateway.entry import main\nsys.argv = ['gateway', 'serve']\nmain()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    loaded = _modules_loaded(script, env)
    assert "gateway" in loaded  # the spy ran
    assert not loaded & (HEAVY | {"typer", "pydantic", "pydantic_settings"})


def test_the_heavy_set_is_what_the_application_imports() -> None:
    """The checks above can fail: importing the application loads those modules (numpy
    loads with the first upload scan: ``tests/unit/test_app.py``)."""
    loaded = _modules_loaded(f"import gateway.app, gateway.finetune.migrate\n{_REPORT}")
    assert HEAVY - {"numpy", "presidio_analyzer", "spacy", "thinc", "uvicorn"} <= loaded


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    """The short help ``gateway --help`` shows for a lazy command is the command's own."""
    load, listed = LAZY_COMMANDS[name]
    assert load().get_short_help_str(limit=1000) == listed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["ingest", "serve", "keys", "audit", "policy", "finetune"]),
        (["audit", "--help"], ["verify", "search", "exposure", "export"]),
        (["policy", "--help"], ["diff"]),
        (["finetune", "--help"], ["import-registry"]),
        (["ingest", "--help"], ["--corpus", "--manifest"]),
        (["audit", "export", "--help"], ["Usage: gateway audit export"]),
    ],
)
def test_lazy_commands_resolve_to_the_real_ones(args: list[str], expected: list[str]) -> None:
    """A lazy subcommand runs as the real one: its own options and subcommands."""
    result = CliRunner().invoke(app, args, prog_name="gateway")
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.output


def test_unknown_command_is_still_an_error() -> None:
    """A name that is neither eager nor lazy fails as before (exit 2)."""
    result = CliRunner().invoke(app, ["nonsense"])
    assert result.exit_code == 2

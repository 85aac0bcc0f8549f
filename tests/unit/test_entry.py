"""The ``gateway`` console script starts a PII worker ahead only for a plain ``serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.entry import starts_a_worker_ahead

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["serve"], {}, True),
        (["serve"], {"GATEWAY_WORKERS": "1"}, True),
        (["serve"], {"GATEWAY_WORKERS": "2"}, False),
        (["serve", "--workers", "2"], {}, False),
        (["serve", "--help"], {}, False),
        (["ingest", "--corpus", "c"], {}, False),
        ([], {}, False),
    ],
)
def test_only_a_single_process_serve_starts_a_worker_ahead(
    args: list[str], environ: dict[str, str], expected: bool
) -> None:
    """Other commands, help and the multi-process supervisor start nothing ahead."""
    assert starts_a_worker_ahead(args, environ) is expected


def test_serve_spawns_the_worker_before_typer_and_settings() -> None:
    """The worker is started before the command line and the settings are imported, so
    its model load overlaps them."""
    script = (
        "import json, sys\nimport gateway.analysis.startup as startup\n"
        "def spy():\n"
        "    print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
        "    sys.exit(0)\n"
        "startup.spawn_ahead = spy\n"
        "from gateway.entry import main\nsys.argv = ['gateway', 'serve']\nmain()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("MODULES=")), None)
    assert line is not None, done.stderr[-2000:]
    loaded = set(json.loads(line.removeprefix("MODULES=")))
    assert "gateway.analysis.startup" in loaded
    assert not loaded & {"typer", "pydantic", "pydantic_settings", "gateway.settings"}

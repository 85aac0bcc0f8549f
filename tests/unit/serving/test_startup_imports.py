"""What ``gateway serve`` imports before it is ready: nothing only ingest needs.

Every module imported on the way to ready is start-up time on one core (#11: ready in
3 s). These modules serve ingest or a fine-tune scan only, so they load when one runs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

NOT_AT_STARTUP = [
    "gateway.ingest.governance",  # the manifest's pydantic models
    "gateway.ingest.manifest",
    "gateway.ingest.documents",
    "jinja2",  # the audit review pages' templates
]


def _imported_by_the_app() -> set[str]:
    probe = "import sys, gateway.app; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


@pytest.fixture(scope="module")
def app_modules() -> set[str]:
    return _imported_by_the_app()


@pytest.mark.parametrize("module", NOT_AT_STARTUP)
def test_the_app_does_not_import(module: str, app_modules: set[str]) -> None:
    """Importing the application leaves ``module`` unloaded."""
    assert "gateway.app" in app_modules  # the probe really imported the app
    assert module not in app_modules

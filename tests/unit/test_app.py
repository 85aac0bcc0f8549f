"""The application: every endpoint outside a short public list is behind the caller
guard, and starting it imports nothing only ingest, an upload scan or the review pages
need (each import is start-up time on one core: #11 wants ready in 3 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.http.admission import caller_limits
from gateway.settings import load_settings
from tests.conftest import REPO

# Need no key: liveness, readiness, metrics, the OpenAPI document (and the not-found
# routes of Litestar's OpenAPI router), and the review pages (their own sign-in form and
# session).
PUBLIC = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/admin/review")
OPENAPI_ROUTER = {"/", "/{path:str}"}


def test_every_non_public_route_authenticates_and_is_limited(tmp_path: Path) -> None:
    """Each handler is either public or guarded by ``caller_limits``, so a new endpoint
    added to the authenticated router gets authentication and the caller's limits."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: []\n")
    settings = load_settings(
        upstream_base_url="http://127.0.0.1:9", audit_dir=tmp_path, api_keys_file=keys
    )
    app = create_app(settings)
    guarded, public = set(), set()
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[union-attr]
            if route.path.startswith(PUBLIC) or route.path in OPENAPI_ROUTER:
                public.add(route.path)
                continue
            assert caller_limits in handler.resolve_guards(), route.path
            guarded.add(route.path)
    assert {"/v1/chat/completions", "/v1/models", "/v1/files", "/admin/audit/records"} <= guarded
    assert "/v1/fine_tuning/jobs" in guarded
    assert {"/healthz", "/readyz", "/openapi.json"} <= public


NOT_AT_STARTUP = [
    "numpy",  # fingerprints: an upload scan or an ingest
    "gateway.ingest.governance",  # the manifest's pydantic models
    "gateway.ingest.manifest",
    "gateway.ingest.documents",
    "jinja2",  # the review pages' templates
]
_START = """
import json, sys
from pathlib import Path
import gateway.cli, gateway.serving.server, gateway.services
from elasticsearch import AsyncElasticsearch
from gateway.app import create_app
from gateway.finetune import UploadScanner, scan
from gateway.finetune.matcher import CorpusMatcher
from gateway.settings import load_settings

keys = Path(sys.argv[1]) / "keys.yaml"
keys.write_text("keys: []\\n")
settings = load_settings(
    upstream_base_url="http://127.0.0.1:9", audit_dir=Path(sys.argv[1]), api_keys_file=keys
)
create_app(settings)
scanner = UploadScanner(CorpusMatcher(AsyncElasticsearch("http://127.0.0.1:9"), "chunks"), None)
started = sorted(sys.modules)
scan._example_units(scan.read_examples(b"a plain text file to fingerprint\\n", "text").examples)
print(json.dumps({"started": started, "scanned": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def start_up_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The modules loaded after importing the CLI, server and app and building the app
    and the upload scanner; then after one upload is prepared for scanning."""
    done = subprocess.run(
        [sys.executable, "-c", _START, str(tmp_path_factory.mktemp("start"))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return modules


@pytest.mark.parametrize("module", NOT_AT_STARTUP)
def test_start_up_does_not_import(module: str, start_up_modules: dict[str, list[str]]) -> None:
    """Starting the app leaves ``module`` unloaded."""
    assert "gateway.app" in start_up_modules["started"]  # the probe really started it
    assert module not in start_up_modules["started"]


def test_an_upload_scan_loads_numpy(start_up_modules: dict[str, list[str]]) -> None:
    """The first upload scan loads numpy, so the probe above can see it."""
    assert "numpy" in start_up_modules["scanned"]

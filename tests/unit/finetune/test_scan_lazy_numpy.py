"""numpy loads when an upload is scanned or a corpus ingested, not when the gateway starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_START = """
import json, sys
from pathlib import Path
import gateway.cli, gateway.serving.server, gateway.services
from elasticsearch import AsyncElasticsearch
from gateway.app import create_app
from gateway.finetune import UploadScanner
from gateway.finetune.matcher import CorpusMatcher
from gateway.ingest import records
from gateway.settings import load_settings

keys = Path(sys.argv[1]) / "keys.yaml"
keys.write_text("keys: []\\n")
settings = load_settings(
    upstream_base_url="http://127.0.0.1:9", audit_dir=Path(sys.argv[1]), api_keys_file=keys
)
create_app(settings)
UploadScanner(CorpusMatcher(AsyncElasticsearch("http://127.0.0.1:9"), "chunks"), None)
started = "numpy" in sys.modules
UploadScanner(CorpusMatcher(AsyncElasticsearch("http://127.0.0.1:9"), "chunks"), None)._prepare(
    b"a plain text file to fingerprint\\n", "text"
)
print(json.dumps({"started": started, "scanned": "numpy" in sys.modules}))
"""


def test_start_up_does_not_import_numpy(tmp_path: Path) -> None:
    """Importing the CLI, server and app, building the app and the upload scanner leaves
    numpy unloaded; the first upload scan loads it (so the check can see it)."""
    done = subprocess.run(
        [sys.executable, "-c", _START, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"started": False, "scanned": True}

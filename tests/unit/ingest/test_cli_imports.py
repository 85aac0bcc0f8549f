import json
import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_command_loads_nothing_heavy() -> None:
    """Importing the ingest command loads no Presidio, spaCy, tokenizer, pypdf or ES client.

    ``gateway/cli.py`` imports it to register the command; every command pays for that.
    """
    script = (
        "import json, sys, gateway.ingest.cli; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "gateway" in loaded
    assert not loaded & {"presidio_analyzer", "spacy", "tiktoken", "pypdf", "elasticsearch"}

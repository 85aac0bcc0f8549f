"""spaCy imported without its command line: lighter, and nothing it finds changes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

TEXTS = [
    "Please call John Smith at 212-555-0123 or email john.smith@example.com today.",
    "Greta Novak (born 4 March 1981) moved from Lisbon to 12 Baker Street, London NW1 6XE.",
    "Card 4111 1111 1111 1111, IBAN DE89370400440532013000, SSN 078-05-1120, IP 10.0.0.7.",
    "Ask Dr. Hiro Nakamura of Acme Corp about the Berlin offsite next Monday at 10am.",
    "Nothing personal here: just a question about Python list comprehensions.",
]


def _run(script: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_spacy_loads_without_its_command_line() -> None:
    """After ``import_spacy`` neither spaCy's CLI nor its dependencies are loaded, and
    ``spacy.cli.download`` still reaches the real function when asked for."""
    script = (
        "import json, sys\n"
        "from gateway.pii.spacy_import import import_spacy\n"
        "spacy = import_spacy()\n"
        "before = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'weasel', 'typer', 'requests'} or m.startswith('spacy.cli'))\n"
        "download = spacy.cli.download\n"
        "import spacy.cli.download as again\n"
        "print(json.dumps({'before': before, 'download': download.__module__, "
        "'same': again is download, 'cli_real': type(spacy.cli).__name__}))\n"
    )
    result = _run(script)
    assert result["before"] == []
    assert result["download"] == "spacy.cli.download"
    assert result["same"] is True
    assert result["cli_real"] == "module"


def test_spans_are_the_same_with_spacys_own_import() -> None:
    """The lean and the full engine find exactly the same spans (types, offsets, scores)
    whether spaCy was imported by ``import_spacy`` or by a plain ``import spacy``."""
    analyse = (
        "import json\n"
        "from gateway.pii.analyzer import PresidioAnalyzer\n"
        f"texts = {TEXTS!r}\n"
        "out = {lean: PresidioAnalyzer(lean=lean).analyze(texts) for lean in (True, False)}\n"
        "print(json.dumps({str(k): v for k, v in out.items()}))\n"
    )
    lazy = _run(analyse)
    plain = _run("import spacy\n" + analyse)
    assert lazy == plain
    lean: list[list[dict[str, object]]] = lazy["True"]  # type: ignore[assignment]
    assert any(span["type"] == "PERSON" for spans in lean for span in spans)

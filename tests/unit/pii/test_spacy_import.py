"""spaCy imported without its command line, Presidio without its throw-away pattern
compiles: lighter, and nothing they find changes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

TEXTS = [
    "Please call John Smith at 212-555-0123 or email john.smith@example.com today.",
    "Greta Novak (born 4 March 1981) moved from Lisbon to 12 Baker Street, London NW1 6XE.",
    "Card 4111 1111 1111 1111, IBAN DE89370400440532013000, SSN 078-05-1120, IP 10.0.0.7.",
    "Ask Dr. Hiro Nakamura of Acme Corp about the Berlin offsite next Monday at 10am.",
    "Nothing personal here: just a question about Python list comprehensions.",
    "See https://docs.example.org/guide or www.acme.co.uk before 2024-03-01 09:30.",
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


def test_predefined_patterns_are_not_compiled_while_presidio_is_imported() -> None:
    """No pattern is compiled to be checked during ``import_presidio``: a Presidio that
    renamed its check (the shim then imports it as it is) makes this fail."""
    script = (
        "import json, sys, regex\n"
        "checks = []\n"
        "compile = regex.compile\n"
        "def counting(pattern, flags=0, *args, **kwargs):\n"
        "    if sys._getframe(1).f_code.co_name == '__validate_regex':\n"
        "        checks.append(pattern)\n"
        "    return compile(pattern, flags, *args, **kwargs)\n"
        "regex.compile = counting\n"
        "from gateway.pii.presidio_import import import_presidio\n"
        "import_presidio()\n"
        "during = len(checks)\n"
        "from presidio_analyzer import Pattern\n"
        "Pattern('after', r'\\d+', 0.5)\n"
        "print(json.dumps({'during': during, 'after': len(checks) - during}))\n"
    )
    result = _run(script)
    assert result == {"during": 0, "after": 1}


@pytest.mark.parametrize("plain_import", ["import spacy", "import presidio_analyzer"])
def test_spans_are_the_same_with_the_libraries_own_imports(plain_import: str) -> None:
    """The lean and full engines and the pattern-only engine find exactly the same spans
    (types, offsets, scores) whether spaCy and Presidio were imported by ``import_spacy``
    and ``import_presidio`` or by a plain import first."""
    analyse = (
        "import json\n"
        "from gateway.pii.analyzer import PresidioAnalyzer\n"
        "from gateway.finetune.pii_patterns import PatternAnalyzer\n"
        f"texts = {TEXTS!r}\n"
        "out = {str(lean): PresidioAnalyzer(lean=lean).analyze(texts) for lean in (True, False)}\n"
        "out['patterns'] = PatternAnalyzer().analyze(texts)\n"
        "print(json.dumps(out))\n"
    )
    lighter = _run(analyse)
    assert lighter == _run(f"{plain_import}\n{analyse}")
    lean: list[list[dict[str, object]]] = lighter["True"]  # type: ignore[assignment]
    assert any(span["type"] == "PERSON" for spans in lean for span in spans)
    patterns: list[list[dict[str, object]]] = lighter["patterns"]  # type: ignore[assignment]
    assert {"URL", "DATE_TIME", "IP_ADDRESS"} <= {s["type"] for spans in patterns for s in spans}

"""``import spacy`` without importing spaCy's command line first.

``spacy/__init__.py`` imports ``spacy.cli.info`` and, through ``spacy.cli``, every CLI
command with its dependencies (typer, weasel, requests, httpx, ...): about a third of
``import spacy``, more than half a CPU-second of an analysis worker's start-up, for
nothing the analyzer uses. ``import_spacy`` puts stand-ins for ``spacy.cli`` and
``spacy.cli.info`` in ``sys.modules`` only while spaCy itself is imported, then takes
them out again, so any later ``import spacy.cli...`` is the real import. Until then the
``spacy.cli`` attribute is a stand-in whose attributes (``spacy.cli.download``, which
Presidio calls only for a model that is not installed) import the real package on first
use, as ``spacy.info`` does when called. Pipelines and what they find are untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_CLI = "spacy.cli"
_INFO = "spacy.cli.info"


def _real_cli() -> types.ModuleType:
    """The real ``spacy.cli`` (importing it also sets ``spacy.cli`` to it)."""
    return importlib.import_module(_CLI)


class _LazyCli(types.ModuleType):
    """``spacy.cli`` until one of its attributes is needed."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_cli(), name)


def _info(*args: Any, **kwargs: Any) -> Any:
    """``spacy.info``: the real one, imported when called."""
    return getattr(_real_cli(), "info")(*args, **kwargs)  # noqa: B009 - a lazy attribute


def import_spacy() -> types.ModuleType:
    """``spacy``, imported without its command line (unless it already was imported)."""
    if "spacy" in sys.modules or importlib.util.find_spec("spacy") is None:
        return importlib.import_module("spacy")
    cli, info = _LazyCli(_CLI), types.ModuleType(_INFO)
    info.info = _info  # type: ignore[attr-defined]
    sys.modules[_CLI], sys.modules[_INFO] = cli, info
    try:
        spacy = importlib.import_module("spacy")
    finally:
        for name, stand_in in ((_CLI, cli), (_INFO, info)):
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    spacy.cli = cli  # type: ignore[attr-defined]
    return spacy

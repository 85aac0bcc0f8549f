"""``import presidio_analyzer`` without compiling every predefined pattern twice.

Presidio's ``Pattern.__init__`` checks its regex by compiling it (``regex.compile``, no
flags) and throws the result away; ``PatternRecognizer`` compiles it again, with its
flags, when it first analyses. ``import presidio_analyzer`` imports every predefined
recognizer, and their class bodies build ~300 patterns: the throw-away compiles are
~0.3 CPU-s of an analysis worker's start-up (the URL recognizer's four patterns, each
naming ~1,500 top-level domains, are 0.2 of it).

``import_presidio`` loads ``presidio_analyzer.pattern`` itself before the package, skips
that check for the patterns built while the package is imported, and puts it back
before returning: patterns built later (ours) are checked as Presidio intends. A
predefined pattern that cannot compile still fails, when the engine first compiles it:
an analysis worker's warm-up runs every recognizer of its registry before it reports
ready. What the recognizers find is untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from gateway.pii.spacy_import import import_spacy

_PACKAGE = "presidio_analyzer"
_PATTERN = "presidio_analyzer.pattern"
_CHECK = "_Pattern__validate_regex"  # Pattern.__validate_regex, name-mangled


def _no_check(pattern: str) -> None:
    """Stands in for Presidio's compile-to-check while its own patterns are built."""


def _pattern_module() -> types.ModuleType:
    """``presidio_analyzer.pattern``, executed without its package (it imports only the
    standard library and ``regex``)."""
    package = importlib.util.find_spec(_PACKAGE)
    if package is None or not package.submodule_search_locations:
        raise ImportError(f"{_PACKAGE} is not installed")
    path = Path(package.submodule_search_locations[0]) / "pattern.py"
    spec = importlib.util.spec_from_file_location(_PATTERN, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_presidio() -> types.ModuleType:
    """``presidio_analyzer`` (and spaCy, without its command line), imported once."""
    if _PACKAGE in sys.modules:
        return sys.modules[_PACKAGE]
    import_spacy()  # before Presidio imports it
    pattern = _pattern_module()
    checked = pattern.Pattern.__dict__.get(_CHECK)
    if checked is None:  # another Presidio: import it as it is (a unit test notices)
        return importlib.import_module(_PACKAGE)
    setattr(pattern.Pattern, _CHECK, staticmethod(_no_check))
    sys.modules[_PATTERN] = pattern
    try:
        presidio = importlib.import_module(_PACKAGE)
    except BaseException:
        sys.modules.pop(_PATTERN, None)
        raise
    finally:
        setattr(pattern.Pattern, _CHECK, checked)
    presidio.pattern = pattern  # type: ignore[attr-defined]  # as a normal import sets it
    return presidio

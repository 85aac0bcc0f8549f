"""tests/unit mirrors the package: tests/unit/<pkg>/test_<mod>.py tests gateway/<pkg>/<mod>.py.

A file may also be named for a whole subpackage (``test_redaction.py`` next to
``gateway/redaction/``) or for one aspect of a module (``test_verify_fast.py`` tests
``verify.py``); ``tests/unit/repo/`` holds the checks of repository files (docs,
deploy scripts, policies README) that are not part of the package.
"""

from pathlib import Path

from tests.conftest import REPO

UNIT = REPO / "tests" / "unit"
PACKAGE = REPO / "gateway"
NOT_MIRRORED = {"repo"}


def _mirrors(test: Path) -> bool:
    """Whether a tests/unit file names an existing module, subpackage or module aspect."""
    folder = PACKAGE / test.parent.relative_to(UNIT)
    if not (folder / "__init__.py").is_file():
        return False
    name = test.stem.removeprefix("test_")
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    if name in modules or (folder / name / "__init__.py").is_file():
        return True
    return any(name.startswith(f"{module}_") for module in modules)


def _unit_tests() -> list[Path]:
    return [
        path
        for path in UNIT.rglob("test_*.py")
        if path.relative_to(UNIT).parts[0] not in NOT_MIRRORED
    ]


def test_every_unit_test_file_mirrors_a_gateway_module() -> None:
    """A tests/unit file whose module was moved, renamed or never existed is reported."""
    stray = sorted(str(p.relative_to(UNIT)) for p in _unit_tests() if not _mirrors(p))
    assert not stray, f"not mirroring a gateway module: {stray}"


def test_every_unit_test_folder_is_a_package() -> None:
    """Sub-folders carry __init__.py, so two test_records.py in different folders coexist."""
    folders = {p.parent for p in UNIT.rglob("test_*.py")}
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing


def test_the_rule_rejects_the_old_flat_prefixes() -> None:
    """The check can fail: flat, prefixed names and unknown modules do not mirror."""
    for name in ("test_audit_export.py", "test_pii_walker.py", "test_nothing.py"):
        assert not _mirrors(UNIT / name), name
    assert not _mirrors(UNIT / "audit" / "test_unknown.py")
    assert not _mirrors(UNIT / "nowhere" / "test_x.py")
    assert _mirrors(UNIT / "audit" / "test_verify_fast.py")
    assert _mirrors(UNIT / "test_redaction.py")

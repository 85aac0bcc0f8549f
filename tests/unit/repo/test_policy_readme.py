from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLES = sorted((REPO / "tests" / "fixtures" / "policy_examples").glob("*.rego"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_readme_shows_each_tested_example(example: Path) -> None:
    """policies/README.md quotes every tested example's rules verbatim, and names it."""
    readme = (REPO / "policies" / "README.md").read_text()
    rules = example.read_text().split("default allow := false\n\n", 1)[1].strip()
    assert rules in readme
    assert f"(`{example.stem}`)" in readme


def test_every_example_is_its_own_package() -> None:
    """Examples load into OPA side by side (each under gateway.examples.<name>)."""
    for example in EXAMPLES:
        assert f"package gateway.examples.{example.stem}\n" in example.read_text()

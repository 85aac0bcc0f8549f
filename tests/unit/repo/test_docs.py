from gateway.settings import reference
from tests.conftest import REPO


def test_readme_documents_every_setting() -> None:
    """The README's configuration table names every setting the gateway reads."""
    readme = (REPO / "README.md").read_text()
    missing = [name for name, _, _ in reference() if f"`{name}`" not in readme]
    assert missing == []

"""One version, from the installed distribution's metadata."""

from importlib.metadata import version

from typer.testing import CliRunner

from gateway.cli import app
from gateway.version import DISTRIBUTION, gateway_version


def test_the_version_is_the_distributions() -> None:
    """gateway_version() is pyproject.toml's version, as installed."""
    assert gateway_version() == version(DISTRIBUTION) != ""


def test_cli_prints_the_version() -> None:
    """``gateway --version`` prints it and exits 0 without running a command."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"gateway {gateway_version()}"

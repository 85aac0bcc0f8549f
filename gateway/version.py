"""The gateway's version, from one source: ``version`` in pyproject.toml, read back from the
installed distribution's metadata (OpenAPI document, audit exports, ``gateway --version``)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "governance-gateway"


@cache
def gateway_version() -> str:
    """The installed version; "" when the package is not installed (only imported)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return ""

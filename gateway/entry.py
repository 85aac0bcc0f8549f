"""The ``gateway`` console script: a plain ``gateway serve`` starts its first PII worker
before anything else is imported.

The worker's model load is the longest step of start-up. Started here, it imports
Presidio and spaCy while this process imports the command line (typer) and reads its
settings (pydantic-settings), about a quarter of a second that it would otherwise wait
for. ``gateway serve`` then tells it what to load, or stops it when the settings turn
PII analysis off (``gateway.analysis.startup``). Every other command starts nothing.
"""

from __future__ import annotations

import os
import sys


def starts_a_worker_ahead(args: list[str], environ: dict[str, str] | os._Environ[str]) -> bool:
    """Only ``gateway serve`` with one gateway process (``--workers``/``GATEWAY_WORKERS``
    runs a supervisor, whose own processes start their workers)."""
    return args == ["serve"] and environ.get("GATEWAY_WORKERS", "1").strip() == "1"


def main() -> None:
    if starts_a_worker_ahead(sys.argv[1:], os.environ):
        from gateway.analysis.startup import spawn_ahead

        spawn_ahead()
    from gateway.cli import main as cli_main

    cli_main()

"""The ``gateway`` console script starts a PII worker ahead only for a plain ``serve``."""

from __future__ import annotations

import pytest

from gateway.entry import starts_a_worker_ahead


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["serve"], {}, True),
        (["serve"], {"GATEWAY_WORKERS": "1"}, True),
        (["serve"], {"GATEWAY_WORKERS": "2"}, False),
        (["serve", "--workers", "2"], {}, False),
        (["serve", "--help"], {}, False),
        (["ingest", "--corpus", "c"], {}, False),
        ([], {}, False),
    ],
)
def test_only_a_single_process_serve_starts_a_worker_ahead(
    args: list[str], environ: dict[str, str], expected: bool
) -> None:
    """Other commands, help and the multi-process supervisor start nothing ahead."""
    assert starts_a_worker_ahead(args, environ) is expected

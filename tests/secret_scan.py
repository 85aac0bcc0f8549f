"""Scan what the gateway wrote (logs, audit segments, spool cursors) for planted secrets."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# Files the gateway itself writes during the suite.
WRITTEN_BY_GATEWAY = ("audit-*.jsonl", "audit-head.json", "*.cursor.json", "gateway.log")

# PII planted in the demo corpus and in test messages; no gateway output may hold them.
PLANTED_PII = ("maria.gonzales@globex.example", "415 555 0134", "415 555 0199")


def planted_secrets() -> list[str]:
    secrets = ["sk-demo-alice", "sk-demo-bob", "sk-demo-carol", "sk-fake-upstream-key"]
    password = os.environ.get("GATEWAY_ELASTICSEARCH_PASSWORD")
    if password:
        secrets.append(password)
    return [*secrets, *PLANTED_PII]


def scan(root: Path, needles: Iterable[str]) -> list[tuple[Path, str]]:
    """(file, needle) for every planted value found in a gateway-written file under root."""
    found: list[tuple[Path, str]] = []
    wanted = list(needles)
    for pattern in WRITTEN_BY_GATEWAY:
        for path in root.rglob(pattern):
            text = path.read_text(errors="replace")
            found.extend((path, needle) for needle in wanted if needle in text)
    return found

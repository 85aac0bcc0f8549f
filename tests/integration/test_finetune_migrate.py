"""Importing an old SQLite fine-tuning registry into the Elasticsearch registry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.elastic import ChunkIndex
from gateway.finetune.migrate import import_entries, read_sqlite
from gateway.finetune.registry import PROCESSED, Registry
from gateway.settings import Settings

pytestmark = pytest.mark.integration

# The schema earlier versions wrote (gateway/finetune/registry.py before the move).
OLD_SCHEMA = """
CREATE TABLE files (id TEXT PRIMARY KEY, owner TEXT NOT NULL, purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, scan_passed INTEGER NOT NULL,
    created_at INTEGER NOT NULL);
CREATE TABLE scans (file_id TEXT PRIMARY KEY, scanned_at TEXT NOT NULL, matches TEXT NOT NULL);
CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, file_id TEXT NOT NULL,
    created_at INTEGER NOT NULL);
"""


def old_registry(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO files VALUES ('file-up1', 'bob', 'fine-tune', 42, ?, 1, 1700000000)",
        ("a" * 64,),
    )
    db.execute(
        "INSERT INTO scans VALUES ('file-up1', '2026-01-01T00:00:00Z', ?)",
        ('[{"doc_id": "d1", "score": 0.1}]',),
    )
    db.execute("INSERT INTO jobs VALUES ('ftjob-1', 'bob', 'file-up1', 1700000100)")
    db.commit()
    db.close()


async def test_old_files_and_jobs_are_imported_once(settings: Settings, tmp_path: Path) -> None:
    """Files become processed entries under their upstream ids with their scan record;
    jobs keep their owner; a second import changes nothing."""
    old_registry(tmp_path / "finetune-registry.sqlite3")
    files, jobs = read_sqlite(tmp_path / "finetune-registry.sqlite3")
    async with ChunkIndex.from_settings(settings) as index:
        registry = Registry(index.client, settings.index_prefix)
        assert await import_entries(registry, files, jobs) == (1, 1)
        entry = await registry.file("bob", "file-up1")
        assert entry is not None
        assert entry.status == PROCESSED
        assert entry.upstream_id == "file-up1"
        assert entry.scanned_at == "2026-01-01T00:00:00Z"
        assert entry.matches == [{"doc_id": "d1", "score": 0.1}]
        assert await registry.owns_job("bob", "ftjob-1")
        assert await import_entries(registry, files, jobs) == (0, 1)

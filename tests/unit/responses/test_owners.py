"""The responses registry: who owns which response id."""

from __future__ import annotations

from pathlib import Path

from gateway.responses.owners import ResponseOwners


def test_only_the_recorded_owner_owns_an_id(tmp_path: Path) -> None:
    """An id is the first recorder's, survives reopening, and is gone once forgotten."""
    path = tmp_path / "r.sqlite3"
    with ResponseOwners(path) as owners:
        owners.record("alice", "resp_1")
        owners.record("bob", "resp_1")
        assert owners.owns("alice", "resp_1")
        assert not owners.owns("bob", "resp_1")
    with ResponseOwners(path) as owners:
        assert owners.owns("alice", "resp_1")
        owners.forget("bob", "resp_1")
        assert owners.owns("alice", "resp_1")
        owners.forget("alice", "resp_1")
        assert not owners.owns("alice", "resp_1")

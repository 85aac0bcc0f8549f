import json
from pathlib import Path

import pytest

from gateway.audit import GENESIS_HASH, AuditLog, record_hash
from gateway.errors import DependencyUnavailable


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_records_are_hash_chained(tmp_path: Path) -> None:
    """Each record hashes its body together with the previous record's hash."""
    async with AuditLog(tmp_path) as audit:
        first = await audit.append("request", {"subject": "a"})
        await audit.append("outcome", {"request_audit_id": first})
    records = _records(audit.path)
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert records[1]["prev_hash"] == records[0]["hash"]
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        assert record["hash"] == record_hash(record["prev_hash"], body)


async def test_chain_continues_after_reopen(tmp_path: Path) -> None:
    """A restarted gateway continues the chain and the sequence where it stopped."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    records = _records(audit.path)
    assert [r["seq"] for r in records] == [1, 2]
    assert records[1]["prev_hash"] == records[0]["hash"]


async def test_append_after_close_fails_closed(tmp_path: Path) -> None:
    """Writing to a closed log raises DependencyUnavailable instead of losing the record."""
    audit = AuditLog(tmp_path)
    async with audit:
        pass
    with pytest.raises(DependencyUnavailable, match="audit"):
        await audit.append("request", {})


async def test_unwritable_directory_fails_at_open(tmp_path: Path) -> None:
    """An audit directory that is a file cannot be opened."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DependencyUnavailable, match="audit"):
        async with AuditLog(blocker / "audit"):
            pass

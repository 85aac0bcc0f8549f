"""verify(): an intact log passes; every kind of tampering is caught at the first broken record."""

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditLog, Location, record_hash, verify
from gateway.audit.chain import body_of
from gateway.audit.checkpoint import HEAD_NAME, sign, write_head
from gateway.audit.segments import list_segments

KEY = "k" * 32
OTHER_KEY = "o" * 32


def request_record(n: int) -> dict[str, Any]:
    """A request record shaped like the chat path's."""
    return {
        "request_id": f"req-{n}",
        "endpoint": "chat.completions",
        "subject": ["alice", "bob"][n % 2],
        "groups": ["engineering"],
        "key_id": "alice-laptop",
        "client_address": "127.0.0.1",
        "user_agent": "OpenAI/Python 1.0",
        "model": "gpt-4o-mini",
        "stream": False,
        "policy_decision_ids": [f"dec-{n}"],
        "allowed": True,
        "upstream_body_sha256": "a" * 64,
        "chunks": [
            {
                "doc_id": f"doc-{n % 3}",
                "doc_version": "1",
                "chunk_id": f"doc-{n % 3}#0",
                "corpus": "handbook",
                "classification": "internal",
                "sha256_injected": "b" * 64,
                "sha256_original": "c" * 64,
                "redactions": [{"entity_type": "EMAIL_ADDRESS", "operator": "replace", "count": 1}],
            }
        ],
    }


async def write_log(directory: Path, count: int = 40, key: str | None = KEY) -> Path:
    """A closed log of ``count`` requests over several segments with checkpoints."""
    async with AuditLog(
        directory, hmac_key=key, segment_max_bytes=8192, checkpoint_every=5
    ) as audit:
        for n in range(count):
            await audit.append("request", request_record(n))
    return directory


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def record_at(path: Path, line: int) -> dict[str, Any]:
    return dict(json.loads(lines(path)[line - 1]))


def where(path: Path, line: int) -> Location:
    record = record_at(path, line)
    return Location(path.name, line, record["seq"], record["audit_id"])


@pytest.fixture
async def log_dir(tmp_path: Path) -> Path:
    directory = await write_log(tmp_path / "audit")
    assert len(list_segments(directory)) >= 3
    return directory


def test_intact_log_verifies(log_dir: Path) -> None:
    """A log written by the writer verifies with its key: signed, sealed, no problems."""
    report = verify(log_dir, KEY)
    assert report.ok
    assert report.problems == []
    assert report.signatures == "valid"
    assert report.sealed
    assert report.checkpoints > 8
    assert report.last_seq == report.records


def test_signed_log_without_the_key_is_unchecked(log_dir: Path) -> None:
    """Without the key the chain is checked and the signatures are reported unchecked."""
    report = verify(log_dir)
    assert report.ok
    assert report.signatures == "unchecked"
    assert [p.code for p in report.warnings] == ["unchecked"]


async def test_unsigned_log_reports_unsigned(tmp_path: Path) -> None:
    """A log written without a key verifies as intact but 'unsigned'."""
    directory = await write_log(tmp_path, count=12, key=None)
    report = verify(directory)
    assert report.ok
    assert report.signatures == "unsigned"
    assert [p.code for p in report.warnings] == ["unsigned"]


def test_edited_field_is_named(log_dir: Path) -> None:
    """Changing one field of one record names that record."""
    path = list_segments(log_dir)[1]
    content = lines(path)
    record = json.loads(content[2])
    record["subject"] = "mallory"
    content[2] = json.dumps(record) + "\n"
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert not report.ok
    assert report.first_error is not None
    assert report.first_error.code == "hash_mismatch"
    assert report.first_error.location == where(path, 3)


def test_edit_with_a_recomputed_hash_breaks_the_next_link(log_dir: Path) -> None:
    """Re-hashing an edited record moves the break to the record after it."""
    path = list_segments(log_dir)[0]
    content = lines(path)
    record = json.loads(content[1])
    record["model"] = "gpt-4o"
    record["hash"] = record_hash(record["prev_hash"], body_of(record))
    content[1] = json.dumps(record) + "\n"
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "broken_link"
    assert report.first_error.location == where(path, 3)


def test_deleted_middle_record_is_named(log_dir: Path) -> None:
    """Deleting a record names the record that followed it."""
    path = list_segments(log_dir)[0]
    content = lines(path)
    del content[3]
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "broken_link"
    assert report.first_error.location == where(path, 4)
    assert report.first_error.location.seq == 5


def test_reordered_records_are_named(log_dir: Path) -> None:
    """Swapping two records names the first of them in file order."""
    path = list_segments(log_dir)[1]
    content = lines(path)
    content[1], content[2] = content[2], content[1]
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "broken_link"
    assert report.first_error.location == where(path, 2)


def test_truncating_the_tail_after_a_checkpoint_is_detected(log_dir: Path) -> None:
    """Cutting the log right after a valid checkpoint is caught through the head file."""
    segments = list_segments(log_dir)
    path = segments[1]
    content = lines(path)
    cut = next(i for i, line in enumerate(content) if json.loads(line)["kind"] == "checkpoint")
    path.write_text("".join(content[: cut + 1]))
    for later in segments[2:]:
        later.unlink()
    report = verify(log_dir, KEY)
    assert not report.ok
    assert report.first_error is not None
    assert report.first_error.code == "truncated"
    last = record_at(path, cut + 1)
    assert report.first_error.location == Location(path.name, cut + 2, last["seq"] + 1, None)


def test_truncating_the_tail_and_the_head_is_detected(log_dir: Path) -> None:
    """Deleting the head file as well is reported rather than passing silently."""
    path = list_segments(log_dir)[-1]
    path.write_text("".join(lines(path)[:2]))
    (log_dir / HEAD_NAME).unlink()
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "missing_head"


def test_deleted_middle_segment_is_named(log_dir: Path) -> None:
    """Removing a whole segment names the first record after the gap."""
    segments = list_segments(log_dir)
    segments[1].unlink()
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "missing_segment"
    assert segments[1].name in report.first_error.message
    assert report.first_error.location == where(segments[2], 1)


def test_deleted_last_segment_is_detected(log_dir: Path) -> None:
    """Removing the newest segment names the rotation checkpoint that announced it."""
    segments = list_segments(log_dir)
    segments[-1].unlink()
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "missing_segment"
    previous = segments[-2]
    assert report.first_error.location == where(previous, len(lines(previous)))


def test_deleted_first_segment_is_detected(log_dir: Path) -> None:
    """Removing the oldest segment is caught too."""
    segments = list_segments(log_dir)
    segments[0].unlink()
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "missing_segment"
    assert report.first_error.location == where(segments[1], 1)


def rechain(directory: Path, key: str | None, resign_from: int = 0) -> None:
    """What a forger does after editing: recompute every link, checkpoint and signature
    (signatures of checkpoints from seq ``resign_from`` on)."""
    prev_hash, last_checkpoint = "0" * 64, None
    for path in list_segments(directory):
        out = []
        for line in lines(path):
            record = json.loads(line)
            record["prev_hash"] = prev_hash
            if record["kind"] == "checkpoint" and record["seq"] >= resign_from:
                record["covers_hash"] = prev_hash
                record["signature"] = sign(key.encode(), record) if key else None
                record["signature_alg"] = "hmac-sha256" if key else None
            record["hash"] = prev_hash = record_hash(prev_hash, body_of(record))
            if record["kind"] == "checkpoint":
                last_checkpoint = record
            out.append(json.dumps(record) + "\n")
        path.write_text("".join(out))
    assert last_checkpoint is not None
    write_head(directory, last_checkpoint)


def _edit_and_find_next_checkpoint(log_dir: Path) -> tuple[Path, int]:
    path = list_segments(log_dir)[1]
    content = lines(path)
    record = json.loads(content[1])
    record["subject"] = "mallory"
    content[1] = json.dumps(record) + "\n"
    path.write_text("".join(content))
    checkpoint = next(
        i for i, line in enumerate(content) if i > 1 and json.loads(line)["kind"] == "checkpoint"
    )
    return path, checkpoint + 1


def test_checkpoint_forged_with_the_wrong_key_is_named(log_dir: Path) -> None:
    """An edited, fully re-chained log re-signed with another key fails at its first checkpoint."""
    _edit_and_find_next_checkpoint(log_dir)
    rechain(log_dir, OTHER_KEY)
    assert verify(log_dir, OTHER_KEY).ok  # the forgery is internally consistent
    report = verify(log_dir, KEY)
    assert not report.ok
    assert report.first_error is not None
    assert report.first_error.code == "bad_signature"
    first_checkpoint = next(
        i + 1
        for i, line in enumerate(lines(list_segments(log_dir)[0]))
        if json.loads(line)["kind"] == "checkpoint"
    )
    # Re-signing touched every checkpoint, so the first one is the first to fail.
    assert report.first_error.location == where(list_segments(log_dir)[0], first_checkpoint)


def test_forged_checkpoint_after_the_edit_is_named(log_dir: Path) -> None:
    """Forging only the checkpoints after an edit names the first forged one."""
    path, checkpoint_line = _edit_and_find_next_checkpoint(log_dir)
    rechain(log_dir, OTHER_KEY, resign_from=record_at(path, 2)["seq"])
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "bad_signature"
    assert report.first_error.location == where(path, checkpoint_line)


def test_rechained_log_with_signatures_removed_is_caught(log_dir: Path) -> None:
    """A forger without the key who drops every signature fails a verifier holding the key."""
    _edit_and_find_next_checkpoint(log_dir)
    rechain(log_dir, None)
    assert verify(log_dir).ok  # without the key, only "unsigned" can be said
    report = verify(log_dir, KEY)
    assert not report.ok
    assert report.first_error is not None
    assert report.first_error.code == "unsigned"
    assert report.first_error.location == where(list_segments(log_dir)[0], 6)


def test_unsigned_checkpoint_after_signed_ones_is_named(log_dir: Path) -> None:
    """Dropping the signatures of later checkpoints only is a downgrade, named at the first."""
    path, checkpoint_line = _edit_and_find_next_checkpoint(log_dir)
    content = lines(path)
    record = json.loads(content[checkpoint_line - 1])
    record["signature"] = record["signature_alg"] = None
    record["hash"] = record_hash(record["prev_hash"], body_of(record))
    content[checkpoint_line - 1] = json.dumps(record) + "\n"
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "hash_mismatch"  # the edit itself comes first
    assert report.first_error.location == where(path, 2)


async def test_unsealed_tail_is_a_warning_naming_its_first_record(tmp_path: Path) -> None:
    """Records after the last checkpoint (a live or crashed log) are a warning, not an error."""
    async with AuditLog(tmp_path, hmac_key=KEY, checkpoint_every=5) as audit:
        for n in range(7):
            await audit.append("request", request_record(n))
        report = verify(tmp_path, KEY)
    assert report.ok
    assert not report.sealed
    unsealed = [p for p in report.warnings if p.code == "unsealed_tail"]
    assert len(unsealed) == 1
    assert "2 records (seq 7..8)" in unsealed[0].message
    assert unsealed[0].location is not None
    assert unsealed[0].location.seq == 7


async def test_torn_last_line_is_a_warning(tmp_path: Path) -> None:
    """A crash's incomplete last line is reported but does not break the log."""
    await write_log(tmp_path, count=6)
    path = list_segments(tmp_path)[-1]
    with path.open("a") as handle:
        handle.write('{"audit_id": "aud_torn", "ki')
    report = verify(tmp_path, KEY)
    assert report.ok
    assert [p.code for p in report.warnings] == ["torn_tail"]


def test_garbage_line_is_named(log_dir: Path) -> None:
    """A line that is not a record is named by segment and line."""
    path = list_segments(log_dir)[0]
    content = lines(path)
    content[4] = "not json\n"
    path.write_text("".join(content))
    report = verify(log_dir, KEY)
    assert report.first_error is not None
    assert report.first_error.code == "not_a_record"
    assert report.first_error.location == Location(path.name, 5, None, None)


def test_empty_directory_verifies(tmp_path: Path) -> None:
    """No log yet is not a broken log."""
    report = verify(tmp_path)
    assert report.ok
    assert report.records == 0


def test_report_serialises(log_dir: Path) -> None:
    """The report renders as JSON for the CLI and an admin API."""
    data = json.loads(json.dumps(verify(log_dir, KEY).as_dict()))
    assert data["ok"] is True
    assert data["signatures"] == "valid"

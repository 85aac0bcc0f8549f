"""The spool under the shipper: cursor, complete lines only, durability, segment hand-over."""

import json
from pathlib import Path

from structlog.testing import capture_logs

from gateway.audit import AuditLog
from gateway.audit.segments import list_segments, segment_name
from gateway.audit.spool import Cursor, Spool


def drain(spool: Spool, batch: int = 1000) -> list[str]:
    """Read and commit everything pending, returning audit ids in order."""
    ids: list[str] = []
    cursor = spool.load_cursor()
    while True:
        read = spool.read(cursor, batch)
        if read.end == read.start:
            return ids
        ids += [r["audit_id"] for r in read.records]
        spool.commit(read.end)
        cursor = read.end


def all_ids(directory: Path) -> list[str]:
    return [
        json.loads(line)["audit_id"]
        for path in list_segments(directory)
        for line in path.read_text().splitlines()
    ]


async def test_everything_is_read_once_across_segments(tmp_path: Path) -> None:
    """Draining the spool yields every record of every segment once, in log order."""
    async with AuditLog(tmp_path, segment_max_bytes=4096, checkpoint_every=7) as audit:
        for n in range(60):
            await audit.append("request", {"n": n, "pad": "x" * 100})
    assert len(list_segments(tmp_path)) > 2
    spool = Spool(tmp_path, "test")
    assert drain(spool, batch=7) == all_ids(tmp_path)
    assert drain(spool) == []


async def test_cursor_survives_a_restart(tmp_path: Path) -> None:
    """A new Spool on the same directory resumes after the committed cursor."""
    async with AuditLog(tmp_path) as audit:
        for n in range(5):
            await audit.append("request", {"n": n})
    first = Spool(tmp_path, "test")
    read = first.read(first.load_cursor(), 2)
    first.commit(read.end)
    assert json.loads(first.cursor_path.read_text()) == {
        "segment": segment_name(1),
        "offset": read.end.offset,
    }
    rest = drain(Spool(tmp_path, "test"))
    assert [r["audit_id"] for r in read.records] + rest == all_ids(tmp_path)


async def test_consumers_have_separate_cursors(tmp_path: Path) -> None:
    """Each consumer (index) keeps its own cursor file."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    assert drain(Spool(tmp_path, "a"))
    assert drain(Spool(tmp_path, "b"))


def test_an_incomplete_line_waits(tmp_path: Path) -> None:
    """A line still being written is not read until its newline arrives."""
    path = tmp_path / segment_name(1)
    path.write_bytes(b'{"audit_id": "one"}\n{"audit_id": "tw')
    spool = Spool(tmp_path, "test")
    assert drain(spool) == ["one"]
    with path.open("ab") as handle:
        handle.write(b'o"}\n')
    assert drain(spool) == ["two"]


async def test_reading_stops_at_the_durable_position(tmp_path: Path) -> None:
    """With the writer's durable position, bytes past it are not read."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {"n": 1})
        name, size = audit.durable_position()
        await audit.append("request", {"n": 2})
        spool = Spool(tmp_path, "test", durable=lambda: (name, size))
        assert len(drain(spool)) == 1
        live = Spool(tmp_path, "test", durable=audit.durable_position)
        assert len(drain(live)) == 1


def test_an_unfinished_segment_is_not_left(tmp_path: Path) -> None:
    """An empty next segment does not move the cursor until the current one is sealed."""
    (tmp_path / segment_name(1)).write_bytes(b'{"audit_id": "a", "kind": "request"}\n')
    (tmp_path / segment_name(2)).write_bytes(b"")
    spool = Spool(tmp_path, "test")
    assert drain(spool) == ["a"]
    assert spool.load_cursor().segment == segment_name(1)
    with (tmp_path / segment_name(1)).open("ab") as handle:
        handle.write(b'{"audit_id": "late", "kind": "request"}\n')
    (tmp_path / segment_name(2)).write_bytes(b'{"audit_id": "b", "kind": "request"}\n')
    assert drain(spool) == ["late", "b"]


def test_unreadable_lines_are_skipped_and_logged(tmp_path: Path) -> None:
    """A line that is not JSON is reported and passed over instead of blocking the spool."""
    (tmp_path / segment_name(1)).write_bytes(b'{"audit_id": "a"}\nnot json\n{"audit_id": "b"}\n')
    with capture_logs() as events:
        assert drain(Spool(tmp_path, "test")) == ["a", "b"]
    assert [e["event"] for e in events] == ["audit_spool_unreadable_line"]


def test_a_missing_cursor_starts_at_the_beginning(tmp_path: Path) -> None:
    """Without a cursor file, reading starts at the first segment."""
    assert Spool(tmp_path, "test").load_cursor() == Cursor(segment_name(1), 0)


async def test_an_unreadable_cursor_restarts_from_the_beginning(tmp_path: Path) -> None:
    """A damaged cursor file re-reads the log (safe for an idempotent consumer) and says so."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    spool = Spool(tmp_path, "test")
    spool.cursor_path.write_text("{half")
    with capture_logs() as events:
        assert spool.load_cursor() == Cursor(segment_name(1), 0)
    assert [e["event"] for e in events] == ["audit_spool_cursor_unreadable"]

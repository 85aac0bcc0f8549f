"""Verify on stored bytes: every single-byte edit of any chain's segment is caught, the
scan reads segments in blocks of any size, and the walk and the scan agree on what a
record's hash covers."""

import asyncio
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit import AuditLog, scan
from gateway.audit.chain import (
    HASH_TAIL_BYTES,
    line_hash_matches,
    record_hash,
    stored_hash_matches,
)
from gateway.audit.checkpoint import signing_key
from gateway.audit.report import VerifyReport
from gateway.audit.scan import scan_segment
from gateway.audit.segments import all_segments, list_segments
from gateway.audit.verify import verify_all
from gateway.audit.walk import Verifier
from tests.unit.audit.test_verify import KEY, lines, request_record


async def _two_chains(directory: Path, count: int) -> None:
    """Two writers appending at once, small segments, frequent checkpoints."""

    async def chain(writer: str, first: int) -> None:
        async with AuditLog(
            directory, hmac_key=KEY, segment_max_bytes=8192, checkpoint_every=5, writer_id=writer
        ) as audit:
            for n in range(first, first + count):
                await audit.append("request", request_record(n))

    await asyncio.gather(chain("w1", 0), chain("w2", 1000))


def _walk(directory: Path) -> list[VerifyReport]:
    """The record-by-record walk of every chain."""
    return [Verifier(directory, signing_key(KEY), writer).run() for writer in ("w1", "w2")]


@pytest.fixture(scope="module")
def two_chains(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit-bytes") / "audit"
    asyncio.run(_two_chains(directory, 30))
    assert all(len(paths) >= 3 for paths in all_segments(directory).values())
    return directory


def _segments(directory: Path) -> list[Path]:
    return [path for paths in all_segments(directory).values() for path in paths]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0), value=st.integers(0, 255))
def test_any_single_byte_edit_of_any_segment_is_an_error(
    two_chains: Path, position: int, value: int
) -> None:
    """Whatever byte of whichever chain's segment is changed to whatever value, verify
    reports an error, and the same report as the record-by-record walk."""
    with tempfile.TemporaryDirectory() as temporary:
        directory = shutil.copytree(two_chains, Path(temporary) / "audit")
        paths = _segments(directory)
        sizes = [path.stat().st_size for path in paths]
        position %= sum(sizes)
        index = 0
        while position >= sizes[index]:
            position -= sizes[index]
            index += 1
        path = paths[index]
        data = bytearray(path.read_bytes())
        if data[position] == value:
            value = (value + 1) % 256
        data[position] = value
        path.write_bytes(bytes(data))
        expected = [report.as_dict() for report in _walk(directory)]
        assert not all(report["ok"] for report in expected)
        reports = verify_all([directory], KEY)  # workers: test_verify_fast.py
        assert [report.as_dict() for report in reports] == expected


def test_intact_chains_pass_on_the_fast_path(two_chains: Path) -> None:
    """Both chains of an untouched log scan as usual and verify as the walk does."""
    assert all(scan_segment(path, path.name.split("-")[1]).usual for path in _segments(two_chains))
    reports = verify_all([two_chains], KEY, workers=2)
    assert all(report.ok for report in reports)
    assert [r.as_dict() for r in reports] == [r.as_dict() for r in _walk(two_chains)]


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
def test_any_read_block_size_gives_the_same_scan(
    two_chains: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines longer than the read buffer and lines cut by a block boundary scan exactly as
    with the default block."""
    expected = [scan_segment(path, "w1") for path in list_segments(two_chains, "w1")]
    monkeypatch.setattr(scan, "BLOCK_BYTES", block)
    assert [scan_segment(path, "w1") for path in list_segments(two_chains, "w1")] == expected


def test_a_torn_last_line_is_unusual_for_the_scan(tmp_path: Path, two_chains: Path) -> None:
    """A segment whose last line lacks its newline is left to the walk (it names it)."""
    directory = shutil.copytree(two_chains, tmp_path / "audit")
    path = list_segments(directory, "w1")[-1]
    path.write_bytes(path.read_bytes()[:-1])
    assert not scan_segment(path, "w1").usual


def test_stored_bytes_or_canonical_content_define_the_hash(two_chains: Path) -> None:
    """A line's hash may cover its stored bytes (what the writer writes) or, for a line
    not in that form (old, re-spaced records), the canonical JSON of its content."""
    content = lines(list_segments(two_chains, "w1")[-1])
    record = json.loads(content[1])
    body = {key: value for key, value in record.items() if key != "hash"}
    spaced = json.dumps(body, separators=(", ", ": "))  # not the canonical form
    digest = hashlib.sha256((record["prev_hash"] + spaced[:-1] + "}").encode()).hexdigest()
    raw = f'{spaced[:-1]},"hash":"{digest}"}}'.encode()
    assert stored_hash_matches(raw, record["prev_hash"], digest)
    assert line_hash_matches(raw, {**body, "hash": digest})
    canonical = record_hash(record["prev_hash"], body)
    assert not stored_hash_matches(raw, record["prev_hash"], canonical)
    assert line_hash_matches(raw, {**body, "hash": canonical})
    assert len(raw) - raw.rindex(b',"hash"') == HASH_TAIL_BYTES


def test_a_stored_bytes_hash_over_other_bytes_is_refused() -> None:
    """The byte form is checked exactly: a tail naming another hash, or a line too short
    to hold one, does not match."""
    prev = "0" * 64
    body = b'{"a":1'
    digest = hashlib.sha256(prev.encode() + body + b"}").hexdigest()
    raw = body + f',"hash":"{digest}"}}'.encode()
    assert stored_hash_matches(raw, prev, digest)
    assert not stored_hash_matches(raw, "1" * 64, digest)
    assert not stored_hash_matches(raw.replace(b'"a"', b'"b"'), prev, digest)
    assert not stored_hash_matches(raw[-HASH_TAIL_BYTES:], prev, digest)


def _line(prev: str, seq: int, payload: bytes) -> tuple[str, bytes]:
    """(hash, line) of a record in the writer's byte form around ``payload`` bytes."""
    body = (
        b'{"audit_id":"a%d","kind":"request","note":"' % seq
        + payload
        + b'","prev_hash":"%s","seq":%d,"time":"t"' % (prev.encode(), seq)
    )
    digest = hashlib.sha256(prev.encode() + body + b"}").hexdigest()
    return digest, body + b',"hash":"%s"}' % digest.encode()


def test_invalid_utf8_in_a_skipped_field_is_left_to_the_walk(tmp_path: Path) -> None:
    """A line that hashes right but is not UTF-8 is not a record for the walk's parser,
    so the scan must not pass it either (msgspec only checks fields it decodes)."""
    first, line1 = _line("0" * 64, 1, b"ok")
    _second, line2 = _line(first, 2, b"\xff")
    path = tmp_path / "audit-000001.jsonl"
    path.write_bytes(line1 + b"\n" + line2 + b"\n")
    assert not scan_segment(path).usual
    _second, line2 = _line(first, 2, "é".encode())
    path.write_bytes(line1 + b"\n" + line2 + b"\n")
    assert scan_segment(path).usual


def test_records_moved_across_line_breaks_are_named_as_by_the_walk(
    tmp_path: Path, two_chains: Path
) -> None:
    """One record split over two lines and two others joined on one line (as many lines
    as records): verify names what the walk names."""
    directory = shutil.copytree(two_chains, tmp_path / "audit")
    path = list_segments(directory, "w1")[1]
    content = lines(path)
    split = content[1].index(',"seq"')
    content[1] = content[1][:split] + "\n" + content[1][split:]
    content[3] = content[3].rstrip("\n") + content.pop(4)
    path.write_text("".join(content))
    expected = [report.as_dict() for report in _walk(directory)]
    assert not expected[0]["ok"]
    assert [report.as_dict() for report in verify_all([directory], KEY)] == expected

"""The fast verify path (byte hashing, segment scans, parallel workers) reports exactly
what the record-by-record walk reports, on intact and on tampered logs."""

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit import verify
from gateway.audit.checkpoint import signing_key
from gateway.audit.report import VerifyReport
from gateway.audit.scan import scan_segment
from gateway.audit.segments import list_segments
from gateway.audit.walk import Verifier
from tests.unit.audit.test_verify import KEY, lines, write_log


def reference(directory: Path, key: str | None = KEY) -> VerifyReport:
    """The record-by-record walk, as verify() did before the fast path."""
    return Verifier(directory, signing_key(key)).run()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit-fast") / "audit"
    asyncio.run(write_log(directory, count=60))
    assert len(list_segments(directory)) >= 4
    return directory


@pytest.mark.parametrize("workers", [1, 2])
def test_intact_log_takes_the_fast_path_with_the_same_report(pristine: Path, workers: int) -> None:
    """Every segment of a writer's log scans as usual; the report equals the walk's."""
    assert all(scan_segment(path).usual for path in list_segments(pristine))
    assert verify(pristine, KEY, workers=workers).as_dict() == reference(pristine).as_dict()
    assert verify(pristine, workers=workers).as_dict() == reference(pristine, None).as_dict()


def test_a_non_canonical_but_matching_line_still_passes(pristine: Path, tmp_path: Path) -> None:
    """Hashes are over canonical JSON: a record re-spaced (same content) passes, as before
    (the scan falls back to the canonical check for lines not in the writer's form)."""
    directory = shutil.copytree(pristine, tmp_path / "audit")
    path = list_segments(directory)[1]
    content = lines(path)
    content[2] = json.dumps(json.loads(content[2]), indent=None) + "\n"  # ", " and ": "
    path.write_text("".join(content))
    report = verify(directory, KEY, workers=2)
    assert report.ok
    assert report.as_dict() == reference(directory).as_dict()


TAMPER = st.sampled_from(["flip", "delete", "swap", "duplicate", "truncate", "drop_segment"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=TAMPER, segment=st.integers(0, 10), line=st.integers(0, 40), offset=st.integers())
def test_any_tampering_is_reported_exactly_as_by_the_walk(
    pristine: Path, kind: str, segment: int, line: int, offset: int
) -> None:
    """Whatever is edited, deleted, moved, duplicated or cut, verify() (1 or 2 workers)
    names the same first problem at the same place as the record-by-record walk."""
    with tempfile.TemporaryDirectory() as temporary:
        directory = shutil.copytree(pristine, Path(temporary) / "audit")
        segments = list_segments(directory)
        path = segments[segment % len(segments)]
        content = lines(path)
        index = line % len(content)
        if kind == "flip":
            raw = bytearray(content[index].encode())
            position = offset % (len(raw) - 1)
            raw[position] = ord("X") if raw[position] != ord("X") else ord("Y")
            content[index] = raw.decode(errors="replace")
        elif kind == "delete":
            del content[index]
        elif kind == "swap" and index + 1 < len(content):
            content[index], content[index + 1] = content[index + 1], content[index]
        elif kind == "duplicate":
            content.insert(index, content[index])
        elif kind == "truncate":
            text = "".join(content)
            content = [text[: offset % len(text)]]
        elif kind == "drop_segment":
            content = []
        if kind == "drop_segment":
            path.unlink()
        else:
            path.write_text("".join(content))
        expected = reference(directory).as_dict()
        assert verify(directory, KEY).as_dict() == expected
        assert verify(directory, KEY, workers=2).as_dict() == expected

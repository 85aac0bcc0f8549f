"""Several chains per directory (one per writer) and several directories (replicas):
naming, envelopes, per-chain verification and merged review."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.audit import AuditLog, exposure, search, show
from gateway.audit.checkpoint import head_name
from gateway.audit.segments import (
    WRITER_PATTERN,
    all_segments,
    check_writer,
    list_segments,
    parse_segment,
    segment_name,
)
from gateway.audit.verify import chains, verify, verify_all
from tests.unit.audit.test_verify import KEY, request_record

WRITER_IDS = st.from_regex(WRITER_PATTERN, fullmatch=True)


async def _write(directory: Path, writer: str | None, first: int, count: int) -> list[str]:
    async with AuditLog(
        directory, hmac_key=KEY, segment_max_bytes=8192, checkpoint_every=5, writer_id=writer
    ) as audit:
        return [
            await audit.append("request", request_record(n)) for n in range(first, first + count)
        ]


async def _interleaved(directory: Path, writers: list[str | None], count: int) -> None:
    """Writers appending at the same time, as a server's workers do."""
    await asyncio.gather(*(_write(directory, w, i * 1000, count) for i, w in enumerate(writers)))


@pytest.fixture
def two_workers(tmp_path: Path) -> Path:
    directory = tmp_path / "audit"
    asyncio.run(_interleaved(directory, [None, "w1", "w2"], 30))
    return directory


@given(WRITER_IDS, st.integers(min_value=1, max_value=10**9))
def test_segment_names_parse_back_to_writer_and_number(writer: str, number: int) -> None:
    """Every valid writer id and number round-trips through the segment file name."""
    assert parse_segment(segment_name(number, writer)) == (writer, number)
    assert parse_segment(segment_name(number)) == (None, number)


@pytest.mark.parametrize("bad", ["", "-w", "a/b", "a b", "x" * 65, "../w1", "w1\n"])
def test_invalid_writer_ids_are_refused(bad: str) -> None:
    """A writer id that could escape the directory or confuse the names is refused."""
    with pytest.raises(ValueError, match="writer id"):
        check_writer(bad)


def test_a_name_with_a_line_break_after_it_is_no_segment() -> None:
    """``$`` would match before a final newline: names must match whole."""
    assert parse_segment(segment_name(1) + "\n") is None


def test_each_writer_has_its_own_segments_head_and_envelope(two_workers: Path) -> None:
    """Segments and head files are named after their writer; every record of a named
    chain carries its writer id, legacy records none."""
    segments = all_segments(two_workers)
    assert set(segments) == {None, "w1", "w2"}
    assert segments["w1"][0].name == "audit-w1-000001.jsonl"
    assert segments[None][0].name == "audit-000001.jsonl"
    for name in ("w1", "w2"):
        assert (two_workers / head_name(name)).is_file()
    for writer, paths in segments.items():
        for path in paths:
            for line in path.read_text().splitlines():
                assert json.loads(line).get("writer") == writer


def test_verify_all_reports_each_chain(two_workers: Path) -> None:
    """Three chains interleaved in time each verify on their own, legacy first."""
    reports = verify_all([two_workers], KEY, workers=2)
    assert [r.writer for r in reports] == [None, "w1", "w2"]
    assert all(r.ok and r.records > 30 and r.signatures == "valid" for r in reports)
    assert chains(two_workers) == [None, "w1", "w2"]
    assert verify(two_workers, KEY, writer="w2").as_dict() == reports[2].as_dict()


def test_a_record_moved_to_another_chain_is_caught(two_workers: Path) -> None:
    """Editing a record's writer (or moving it) breaks its chain, and only that chain."""
    path = list_segments(two_workers, "w2")[0]
    content = path.read_text().replace('"writer":"w2"', '"writer":"w1"', 1)
    path.write_text(content)
    reports = {r.writer: r for r in verify_all([two_workers], KEY)}
    assert reports["w1"].ok
    assert reports[None].ok
    assert not reports["w2"].ok
    assert reports["w2"].first_error is not None
    assert reports["w2"].first_error.code == "hash_mismatch"


def test_truncating_one_chain_is_caught_by_its_own_head(two_workers: Path) -> None:
    """Deleting one writer's last segments is named in that chain's report."""
    for path in list_segments(two_workers, "w1")[1:]:
        path.unlink()
    reports = {r.writer: r for r in verify_all([two_workers], KEY)}
    assert not reports["w1"].ok
    assert reports["w2"].ok
    assert reports[None].ok


def test_a_chain_whose_segments_are_all_gone_is_still_reported(two_workers: Path) -> None:
    """A head file without segments is a chain deleted whole: reported as broken."""
    for path in list_segments(two_workers, "w2"):
        path.unlink()
    reports = {r.writer: r for r in verify_all([two_workers], KEY)}
    assert "w2" in reports
    assert not reports["w2"].ok


def test_several_directories_merge_by_time(tmp_path: Path) -> None:
    """search / exposure / show see every chain of every replica directory, by time."""
    first, second = tmp_path / "r1", tmp_path / "r2"
    asyncio.run(_interleaved(first, ["w1", "w2"], 6))
    ids = asyncio.run(_write(second, None, 500, 6))
    found = search([first, second])
    assert len(found) == 18
    times = [r["time"] for r in found]
    assert times == sorted(times)
    assert {r.get("writer") for r in found} == {"w1", "w2", None}
    exposed = exposure([first, second], "doc-1")
    assert {e["audit_id"] for e in exposed} >= {
        r["audit_id"] for r in found if r["chunks"][0]["doc_id"] == "doc-1"
    }
    assert show([first, second], ids[0]) is not None


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    from gateway.audit.cli import audit_app

    return CliRunner().invoke(audit_app, list(args), env=env)


def test_cli_verifies_several_directories_per_chain(two_workers: Path, tmp_path: Path) -> None:
    """`gateway audit verify DIR1 DIR2 --json` lists every chain; one broken chain fails
    the run and names its writer."""
    other = tmp_path / "replica-b"
    asyncio.run(_interleaved(other, ["b-w1"], 5))
    ok = _invoke("verify", str(two_workers), "--dir", str(other), "--json")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert [(c["directory"], c["writer"]) for c in report["chains"]] == [
        (str(two_workers), None),
        (str(two_workers), "w1"),
        (str(two_workers), "w2"),
        (str(other), "b-w1"),
    ]
    path = list_segments(other, "b-w1")[0]
    path.write_text(path.read_text().replace('"subject":"bob"', '"subject":"eve"', 1))
    broken = _invoke("verify", "--dir", str(two_workers), "--dir", str(other))
    assert broken.exit_code == 1
    assert f"{other}, writer b-w1: BROKEN" in broken.output
    assert "4 chains, 1 broken" in broken.output


def test_cli_exposure_merges_directories(two_workers: Path, tmp_path: Path) -> None:
    """`gateway audit exposure DOC --dir A --dir B --json` lists prompts of both."""
    other = tmp_path / "replica-b"
    asyncio.run(_interleaved(other, ["b-w1"], 5))
    result = _invoke("exposure", "doc-0", "--dir", str(two_workers), "--dir", str(other), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert len(found) == len(exposure([two_workers], "doc-0")) + len(exposure([other], "doc-0"))


def test_a_second_writer_of_one_chain_is_refused(tmp_path: Path) -> None:
    """Two logs open on one writer id (two processes misconfigured alike) cannot both
    write: the second is refused with a 503-class error; another id is fine."""
    from gateway.errors import DependencyUnavailable

    async def scenario() -> None:
        async with AuditLog(tmp_path, writer_id="w1"):
            with pytest.raises(DependencyUnavailable, match="another process"):
                async with AuditLog(tmp_path, writer_id="w1"):
                    pass
            async with AuditLog(tmp_path, writer_id="w2") as other:
                await other.append("request", request_record(1))
        async with AuditLog(tmp_path, writer_id="w1") as again:  # released on close
            await again.append("request", request_record(2))

    asyncio.run(scenario())

"""Segment files on disk: names, order, line reading and crash-safe small-file writes.

A directory holds one hash chain per writer (one per gateway worker process). A chain's
segments are ``audit-<writer>-000001.jsonl``, ``audit-<writer>-000002.jsonl``...; the
legacy writer (a log written before writer ids, or a single process without one) has
``audit-000001.jsonl``... Only files with that exact shape are segments, so the head and
spool-cursor files can live in the same directory. A writer id is 1 to 64 letters,
digits, ``_``, ``.`` or ``-``, starting with a letter or digit; the segment number is
whatever follows the name's last ``-``, so the parse is unambiguous.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

WRITER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SEGMENT_PATTERN = re.compile(
    r"^audit-(?:(?P<writer>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}?)-)?(?P<number>\d{6,})\.jsonl$"
)
_BLOCK = 64 * 1024


def check_writer(writer: str | None) -> str | None:
    """``writer`` if it is a valid writer id (or None, the legacy writer); else ValueError."""
    if writer is not None and not WRITER_PATTERN.fullmatch(writer):
        raise ValueError(
            f"invalid audit writer id {writer!r}: 1-64 letters, digits, '_', '.' or '-'"
        )
    return writer


def segment_name(number: int, writer: str | None = None) -> str:
    prefix = "audit-" if writer is None else f"audit-{writer}-"
    return f"{prefix}{number:06d}.jsonl"


def parse_segment(name: str) -> tuple[str | None, int] | None:
    """(writer, number) of a segment file name; None if it is not one."""
    match = SEGMENT_PATTERN.fullmatch(name)
    if match is None:
        return None
    return match.group("writer"), int(match.group("number"))


def segment_number(name: str) -> int:
    parsed = parse_segment(name)
    if parsed is None:
        raise ValueError(f"not an audit segment name: {name}")
    return parsed[1]


def segment_writer(name: str) -> str | None:
    parsed = parse_segment(name)
    if parsed is None:
        raise ValueError(f"not an audit segment name: {name}")
    return parsed[0]


def list_segments(directory: Path, writer: str | None = None) -> list[Path]:
    """One writer's segments in log order (by number, not by name); the legacy writer's
    when ``writer`` is None."""
    return all_segments(directory).get(writer, [])


def all_segments(directory: Path) -> dict[str | None, list[Path]]:
    """Every chain's segments in log order, by writer id (None: the legacy writer)."""
    if not directory.is_dir():
        return {}
    found: dict[str | None, list[tuple[int, Path]]] = {}
    for path in directory.iterdir():
        parsed = parse_segment(path.name)
        if parsed is not None and path.is_file():
            found.setdefault(parsed[0], []).append((parsed[1], path))
    return {writer: [p for _n, p in sorted(paths)] for writer, paths in found.items()}


def iter_lines(path: Path) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number from 1, byte offset, line without newline, complete) for each line.

    Only the last line of a file can be incomplete: a write cut short by a crash.
    """
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            complete = raw.endswith(b"\n")
            yield number, offset, raw[:-1] if complete else raw, complete
            offset += len(raw)


def reverse_lines(path: Path) -> Iterator[bytes]:
    """Complete lines from the end of the file backwards, reading only what is needed."""
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step) + rest
            lines = block.split(b"\n")
            rest = lines[0]
            yield from (line for line in reversed(lines[1:]) if line)
        if rest:
            yield rest


def complete_length(path: Path) -> int:
    """Length of the file up to and including its last newline."""
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return position + newline + 1
    return 0


def fsync_directory(directory: Path) -> None:
    """Make created, renamed or removed directory entries durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a regular file may take fewer at once)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_directory(path.parent)

"""Segment files on disk: names, order, line reading and crash-safe small-file writes.

The log is ``audit-000001.jsonl``, ``audit-000002.jsonl``...; only files with that exact
shape are segments, so the head and spool-cursor files can live in the same directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

SEGMENT_PATTERN = re.compile(r"^audit-(\d{6,})\.jsonl$")
_BLOCK = 64 * 1024


def segment_name(number: int) -> str:
    return f"audit-{number:06d}.jsonl"


def segment_number(name: str) -> int:
    match = SEGMENT_PATTERN.match(name)
    if match is None:
        raise ValueError(f"not an audit segment name: {name}")
    return int(match.group(1))


def list_segments(directory: Path) -> list[Path]:
    """The directory's segments in log order (by number, not by name)."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if SEGMENT_PATTERN.match(p.name) and p.is_file()]
    return sorted(found, key=lambda p: segment_number(p.name))


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

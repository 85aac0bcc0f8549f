"""Length-prefixed JSON frames between the gateway and its analysis workers.

A frame is a 4-byte big-endian length and that many bytes of ASCII JSON. JSON rather than
pickle: a worker that analysed hostile text must not be able to run code in the gateway.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import asyncio

# How the gateway tells a worker its parent's pid and which engines to load first.
PARENT_ENV = "GATEWAY_ANALYSIS_PARENT_PID"
PRELOAD_ENV = "GATEWAY_ANALYSIS_PRELOAD"

_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 512 * 1024 * 1024


class FrameError(Exception):
    """The stream ended or carried something that is not a frame."""


def encode(message: Any) -> bytes:
    # ASCII escapes: any str round-trips, lone surrogates (valid in JSON, not in UTF-8)
    # included, so no caller's text can make encoding fail.
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FrameError("frame is not JSON") from exc


def read_frame(stream: BinaryIO) -> Any | None:
    """The next frame from a blocking stream, or None at a clean end of stream."""
    header = stream.read(_HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise FrameError("stream ended inside a frame header")
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    body = stream.read(length)
    if len(body) < length:
        raise FrameError("stream ended inside a frame")
    return _decode(body)


def write_frame(stream: BinaryIO, message: Any) -> None:
    stream.write(encode(message))
    stream.flush()


async def read_frame_async(reader: asyncio.StreamReader) -> Any:
    """The next frame; FrameError when the stream ends (the worker is gone)."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (length,) = _HEADER.unpack(header)
        if length > MAX_FRAME_BYTES:
            raise FrameError(f"frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
        body = await reader.readexactly(length)
    except EOFError as exc:  # asyncio.IncompleteReadError
        raise FrameError("worker stream ended") from exc
    return _decode(body)

"""The analysis worker hands freed heap pages back once its engines are loaded."""

from __future__ import annotations

import io
import platform
from typing import Any

import pytest

from gateway.analysis import worker
from gateway.analysis.framing import read_frame


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_free_heap_trims_on_glibc() -> None:
    """On glibc the call exists and runs."""
    assert worker.release_free_heap() is True


def test_heap_is_released_before_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker trims after loading its engines and before it reports ready, so the
    RSS measured at rest no longer holds the loaders' garbage."""
    events: list[str] = []

    def load(self: Any, name: str) -> None:
        events.append(f"load {name}")

    def trim() -> bool:
        events.append("trim")
        return True

    monkeypatch.setattr(worker._Engines, "get", load)
    monkeypatch.setattr(worker, "release_free_heap", trim)
    out = io.BytesIO()
    worker.serve(io.BytesIO(b""), out, ["lean"])
    out.seek(0)
    assert events == ["load lean", "trim"]
    ready = read_frame(out)
    assert isinstance(ready, dict)
    assert ready["ready"] is True

"""The analysis worker hands freed heap pages back once its engines are loaded."""

from __future__ import annotations

import io
import platform
import subprocess
from typing import Any

import pytest

from gateway.analysis import worker
from gateway.analysis.framing import read_frame


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_free_heap_trims_on_glibc() -> None:
    """On glibc the call exists and runs."""
    assert worker.release_free_heap() is True


def test_c_library_is_found_without_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reaching prctl and malloc_trim runs no ``ldconfig -p`` (which
    ``ctypes.util.find_library`` would): a worker's start-up spawns nothing."""

    def no_subprocess(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a subprocess was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    worker._c_library.cache_clear()
    assert hasattr(worker._c_library(), "prctl") is (platform.system() == "Linux")
    worker.release_free_heap()


def test_heap_is_released_before_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker trims after loading its engines and before it reports ready, so the
    RSS measured at rest no longer holds the loaders' garbage."""
    events, out = _serve_recording(monkeypatch)
    assert events[:2] == ["get lean", "trim"]
    ready = read_frame(out)
    assert isinstance(ready, dict)
    assert ready["ready"] is True


def test_engines_are_warmed_once_more_after_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """After reporting ready the worker analyses a warm-up text with each preloaded
    engine, so our own recognizers' first-use set-up is not paid by the first chat; the
    engines are looked up once, in one pass over the preload."""
    events, _ = _serve_recording(monkeypatch)
    assert events[:4] == ["get lean", "trim", "ready", "analyze lean"]
    assert set(events[4:]) == {"stdin read"}


def _serve_recording(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], io.BytesIO]:
    """Serve one worker to end of stdin with engines and trimming that only record."""
    events: list[str] = []

    class Engine:
        def __init__(self, name: str) -> None:
            self.name = name

        def analyze(self, texts: list[str]) -> list[list[Any]]:
            assert texts == [worker.WARM_UP_TEXT]
            events.append(f"analyze {self.name}")
            return [[]]

    def load(self: Any, name: str) -> Engine:
        events.append(f"get {name}")
        return Engine(name)

    def trim() -> bool:
        events.append("trim")
        return True

    class Output(io.BytesIO):
        def write(self, data: Any) -> int:
            if b"ready" in bytes(data):
                events.append("ready")
            return super().write(data)

    class Input(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            events.append("stdin read")
            return super().read(size)

    monkeypatch.setattr(worker._Engines, "get", load)
    monkeypatch.setattr(worker, "release_free_heap", trim)
    out = Output()
    worker.serve(Input(b""), out, ["lean"])
    out.seek(0)
    return events, out

"""The worker's pattern engines: warmed before ready, one shared across the policy's types."""

from __future__ import annotations

import io
from typing import Any

import pytest

from gateway.analysis import worker
from gateway.analysis.framing import encode, read_frame


class _Recorded:
    """An engine that records what it analyses and what it is restricted to."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def load(self) -> None:
        self.events.append(f"load {self.name}")

    def analyze(self, texts: list[str]) -> list[list[Any]]:
        warm = {worker.WARM_UP_TEXT: "warm", worker.PATTERN_WARM_UP_TEXT: "warm patterns"}
        self.events.append(f"analyze {self.name}: {warm.get(texts[0], 'job')}")
        return [[] for _ in texts]

    def restricted(self, types: list[str]) -> _Recorded:
        return _Recorded(f"{self.name} as {','.join(types)}", self.events)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    recorded: list[str] = []

    def build(name: str) -> _Recorded:
        recorded.append(f"build {name}")
        return _Recorded(name, recorded)

    monkeypatch.setattr(worker, "_build", build)
    monkeypatch.setattr(worker, "release_free_heap", lambda: True)
    return recorded


def _serve(preload: list[str], jobs: list[dict[str, Any]], events: list[str]) -> None:
    class Output(io.BytesIO):
        def write(self, data: Any) -> int:
            if b"ready" in bytes(data):
                events.append("ready")
            return super().write(data)

    out = Output()
    worker.serve(io.BytesIO(b"".join(encode(job) for job in jobs)), out, preload)
    out.seek(0)
    assert isinstance(read_frame(out), dict)


def test_a_preloaded_pattern_engine_is_warmed_before_ready(events: list[str]) -> None:
    """The pattern engine analyses its warm-up text before the worker reports ready (a
    worker /readyz counts has paid the set-up); the chat engine's warm-up stays after."""
    _serve(["lean", "patterns:*@0.5"], [], events)
    assert events == [
        "build lean",
        "load lean",
        "build patterns:*@0.5",
        "load patterns:*@0.5",
        "analyze patterns:*@0.5: warm patterns",
        "ready",
        "analyze lean: warm",
    ]


def test_the_policy_types_are_served_by_the_preloaded_engine(events: list[str]) -> None:
    """A job for some types at the preloaded floor builds nothing: the every-type engine,
    restricted to them, analyses it; another floor builds its own engine."""
    jobs = [
        {"engine": "patterns:EMAIL_ADDRESS,US_SSN@0.5", "texts": ["a"]},
        {"engine": "patterns:EMAIL_ADDRESS@0.7", "texts": ["b"]},
    ]
    _serve(["patterns:*@0.5"], jobs, events)
    after_ready = events[events.index("ready") + 1 :]
    assert after_ready == [
        "load patterns:*@0.5 as EMAIL_ADDRESS,US_SSN",
        "analyze patterns:*@0.5 as EMAIL_ADDRESS,US_SSN: job",
        "build patterns:EMAIL_ADDRESS@0.7",
        "load patterns:EMAIL_ADDRESS@0.7",
        "analyze patterns:EMAIL_ADDRESS@0.7: job",
    ]

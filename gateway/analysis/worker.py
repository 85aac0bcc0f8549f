"""One analysis worker process: ``python -m gateway.analysis.worker``.

Reads jobs ``{"engine": name, "texts": [...]}`` as frames on stdin (``lean``: the chat
pipeline, ``full``: the bulk one, ``patterns:<types>[@<floor>]``: pattern recognizers only, for
those entity types or ``*`` for all) and answers each with
``{"spans": [[span, ...], ...]}`` or ``{"error": "<exception type>"}`` on stdout (never
the exception's message: it could quote the text). After loading the engines named in
``GATEWAY_ANALYSIS_PRELOAD`` it sends ``{"ready": true}``; other engines load on first
use. A worker started before the gateway has read its settings gets no such variable: it
imports Presidio and spaCy meanwhile, then reads ``{"preload": [...]}`` as its first frame
(end of stdin there: not needed after all, it exits). It exits at end of stdin (the
gateway closed it), and dies with the gateway however that ends: the kernel sends it
SIGKILL when the parent dies (``PR_SET_PDEATHSIG`` on Linux), and a thread watching the
parent process id covers other systems.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
import time
from typing import Any, BinaryIO

from gateway.analysis.framing import PARENT_ENV, PRELOAD_ENV, read_frame, write_frame

_PR_SET_PDEATHSIG = 1
_PARENT_POLL_S = 0.5


@functools.cache
def _c_library() -> ctypes.CDLL:
    """The C library's symbols, as the interpreter already linked them.

    ``ctypes.util.find_library("c")`` would run ``ldconfig -p`` in a subprocess (tens of
    milliseconds of every worker's start-up); the process's own global symbols already
    include the C library's."""
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` dies, even if the parent is SIGKILLed."""
    if sys.platform.startswith("linux"):
        _c_library().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``).

    Loading spaCy and Presidio frees several megabytes of temporary objects that glibc
    would otherwise keep mapped for reuse: RSS at rest drops by ~6 MB. False where the
    C library has no such call (musl, macOS)."""
    trim = getattr(_c_library(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


class _Engines:
    """The lean (chat), full (bulk) and pattern-only Presidio engines, each loaded on
    first need."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        engine = self._loaded.get(name)
        if engine is None:
            engine = self._shared(name) or _build(name)
            engine.load()
            self._loaded[name] = engine
        return engine

    def _shared(self, name: str) -> Any:
        """A pattern engine for some types, taken from the loaded (and warmed) one for
        every type at the same floor, if there is one (``PatternAnalyzer.restricted``):
        the gateway preloads that one, the policy names the types."""
        kind, _, spec = name.partition(":")
        types, at, floor = spec.partition("@")
        every = self._loaded.get(f"{kind}:*{at}{floor}")
        if kind != "patterns" or types == "*" or every is None:
            return None
        return every.restricted([t for t in types.split(",") if t])

    def loaded(self) -> list[str]:
        return sorted(self._loaded)


def _build(name: str) -> Any:
    if name in ("lean", "full"):
        from gateway.pii.analyzer import PresidioAnalyzer

        return PresidioAnalyzer(lean=name == "lean")
    kind, _, spec = name.partition(":")
    if kind != "patterns":
        raise ValueError("unknown engine")
    from gateway.finetune.pii_patterns import PatternAnalyzer

    types, _, floor = spec.partition("@")
    return PatternAnalyzer(
        None if types == "*" else [t for t in types.split(",") if t],
        floor=float(floor) if floor else 0.0,
    )


def requested_preload(stdin: BinaryIO) -> list[str] | None:
    """The engines to load before ready, from ``GATEWAY_ANALYSIS_PRELOAD`` or, when it is
    unset, from the first frame; None when stdin ends first."""
    named = os.environ.get(PRELOAD_ENV)
    if named is not None:
        return [name for name in named.split(",") if name]
    # Every preloaded engine needs these: import them while the gateway decides.
    from gateway.pii.presidio_import import import_presidio

    import_presidio()
    config = read_frame(stdin)
    if config is None:
        return None
    return [str(name) for name in config["preload"]]


WARM_UP_TEXT = "Call 212-555-0123 or write to 12 Baker Street, London NW1 6XE."
"""Analysed once right after ready: our own recognizers (phonenumbers, pyap2's address
patterns) set up on first use, ~0.35 CPU-s that the first chat paid. Done after ready,
it costs start-up nothing while the worker has a core to itself (where the gateway and
its worker share one, it delays the gateway's own start-up by about that much); a chat
arriving meanwhile waits at most that long."""


PATTERN_WARM_UP_TEXT = (
    "Ref 0301234567 of 2024-03-15 (invoice 2024-88123, 1,250.00 EUR): call +44 20 7946 "
    "0958 or 212-555-0123, write to jo@example.com; card 4111 1111 1111 1111, IBAN DE89 "
    "3704 0044 0532 0130 00, IP 192.168.1.20, SSN 078-05-1120, passport 912803456."
)
"""Analysed by each preloaded pattern engine before ready: Presidio compiles its
patterns, ``phonenumbers`` loads each region's metadata (the digit run no US number
covers is tried in every region) and our recognizers set up on first use, ~0.5 to 0.8
CPU-s that the first upload after a start paid. Before ready, so a worker /readyz counts
is warm; only a gateway that scans uploads preloads a pattern engine."""


def serve(stdin: BinaryIO, stdout: BinaryIO, preload: list[str]) -> None:
    engines = _Engines()
    started = time.perf_counter()
    warm_after_ready = []
    for name in preload:
        engine = engines.get(name)
        if name.startswith("patterns:"):
            engine.analyze([PATTERN_WARM_UP_TEXT])
        else:
            warm_after_ready.append(engine)
    release_free_heap()
    write_frame(
        stdout,
        {"ready": True, "load_s": round(time.perf_counter() - started, 3), "pid": os.getpid()},
    )
    for engine in warm_after_ready:
        engine.analyze([WARM_UP_TEXT])
    while (job := read_frame(stdin)) is not None:
        try:
            spans = engines.get(str(job["engine"])).analyze(job["texts"])
        except Exception as exc:  # noqa: BLE001 - reported to the gateway, which attributes it
            write_frame(stdout, {"error": type(exc).__name__, "engines": engines.loaded()})
            continue
        write_frame(stdout, {"spans": spans, "engines": engines.loaded()})


def main() -> None:
    die_with_parent(int(os.environ[PARENT_ENV]))
    # Ctrl-C in a terminal is the gateway's to handle; it then closes our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Anything a library prints must not corrupt the frames: stdout goes to stderr.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    preload = requested_preload(sys.stdin.buffer)
    if preload is not None:
        serve(sys.stdin.buffer, protocol_out, preload)


if __name__ == "__main__":
    main()

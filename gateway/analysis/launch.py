"""Starting a worker process: its command line and environment; imports nothing heavy."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence

from gateway.analysis.framing import PARENT_ENV, PRELOAD_ENV, encode


def worker_env(preload: Sequence[str] | None) -> dict[str, str]:
    """The worker's environment; ``preload`` None: it reads its engines from stdin."""
    # The worker needs none of the gateway's settings, secrets included.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env[PARENT_ENV] = str(os.getpid())
    if preload is not None:
        env[PRELOAD_ENV] = ",".join(preload)
    return env


def spawn(python: str, preload: Sequence[str] | None) -> subprocess.Popen[bytes]:
    """Start a worker now, with no event loop; a ``WorkerProcess`` adopts it later.
    ``preload`` None: the engines are sent later as its first frame (``send_preload``).

    Call it from the thread that runs the event loop (the main thread): the
    parent-death signal follows the thread that forked."""
    return subprocess.Popen(  # noqa: S603 - our interpreter and module, no shell
        [python, "-m", "gateway.analysis.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        env=worker_env(preload),
    )


def send_preload(process: subprocess.Popen[bytes], preload: Sequence[str]) -> None:
    """Tell a worker spawned with ``preload`` None which engines to load before ready.
    A worker that already died is left to the pool, which replaces it."""
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(encode({"preload": list(preload)}))
        process.stdin.flush()

"""Starting a worker process: its command line and environment; imports nothing heavy."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from gateway.analysis.framing import PARENT_ENV, PRELOAD_ENV


def worker_env(preload: Sequence[str]) -> dict[str, str]:
    # The worker needs none of the gateway's settings, secrets included.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env[PARENT_ENV] = str(os.getpid())
    env[PRELOAD_ENV] = ",".join(preload)
    return env


def spawn(python: str, preload: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start a worker now, with no event loop; a ``WorkerProcess`` adopts it later.

    Call it from the thread that runs the event loop (the main thread): the
    parent-death signal follows the thread that forked."""
    return subprocess.Popen(  # noqa: S603 - our interpreter and module, no shell
        [python, "-m", "gateway.analysis.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        env=worker_env(preload),
    )

"""A worker that stops reading its input cannot hold the gateway: sending fails in time."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from gateway.analysis.process import WorkerLost, WorkerProcess


async def test_a_worker_that_reads_nothing_is_lost_within_the_timeout() -> None:
    """A batch larger than the pipe, to a process that never reads it: WorkerLost after
    the batch's timeout, and the process is killed."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import time; time.sleep(60)",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    worker = WorkerProcess(sys.executable, ["lean"])
    worker._process = child
    worker.engines = {"lean"}
    started = time.monotonic()
    with pytest.raises(WorkerLost, match="read no input"):
        await worker.send("lean", ["x" * 1_000_000], timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert child.returncode is not None

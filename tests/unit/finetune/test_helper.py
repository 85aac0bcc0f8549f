"""The scan's helper process: started on demand, fails closed, gone when idle."""

import asyncio
import json
import os
import pickle
import pickletools
import signal
import sys
import time
from typing import Any

import numpy as np
import pytest

from gateway.errors import DependencyUnavailable
from gateway.finetune import pieces
from gateway.finetune.corpus_index import Snapshot
from gateway.finetune.examples import Example
from gateway.finetune.helper import ScanHelper, _load_reply
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import Overlap
from gateway.finetune.overlaps import Holders
from gateway.finetune.scan import UploadScanner


def _reaped(pid: int) -> bool:
    """No such process, not even a zombie."""
    return not os.path.exists(f"/proc/{pid}")


async def _gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _reaped(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_job_runs_in_another_process_started_on_demand() -> None:
    """No process before the first job; the job runs in a child of this one."""
    async with ScanHelper(nice=0) as helper:
        assert not helper.running
        pid = await helper.run(os.getpid)
        assert helper.running
        assert pid != os.getpid()
        assert await helper.run(os.getppid) == os.getpid()
    assert await _gone(pid)


async def test_a_helper_killed_during_a_job_fails_the_job_and_the_next_job_runs() -> None:
    """SIGKILL mid-job: DependencyUnavailable, never a result; a new helper takes the
    next job."""
    async with ScanHelper(nice=0) as helper:
        pid = await helper.run(os.getpid)
        job = asyncio.ensure_future(helper.run(time.sleep, 30))
        await asyncio.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(DependencyUnavailable):
            await asyncio.wait_for(job, 10)
        assert await _gone(pid)
        assert await helper.run(os.getpid) not in (pid, os.getpid())


async def test_a_helper_that_died_while_idle_is_replaced() -> None:
    """Killed between jobs: the next job starts a new helper instead of failing."""
    async with ScanHelper(nice=0) as helper:
        pid = await helper.run(os.getpid)
        os.kill(pid, signal.SIGKILL)
        assert await _gone(pid)
        await asyncio.sleep(0.2)
        assert await helper.run(os.getpid) != pid


async def test_an_idle_helper_exits_and_is_reaped() -> None:
    """``idle_s`` after its last job the helper is gone (not a zombie) and restarts on
    the next job."""
    async with ScanHelper(nice=0, idle_s=0.2) as helper:
        pid = await helper.run(os.getpid)
        assert await _gone(pid)
        assert not helper.running
        assert await helper.run(os.getpid) != pid


async def test_the_helper_runs_at_a_lower_priority() -> None:
    """``nice``: the helper yields the cores to the gateway's requests."""
    async with ScanHelper(nice=5) as helper:
        assert await helper.run(os.nice, 0) == os.nice(0) + 5


@pytest.mark.parametrize("pool", [False, True], ids=["helper", "pool"])
@pytest.mark.parametrize("local", [False, True])
async def test_a_scan_whose_helper_dies_fails(
    monkeypatch: pytest.MonkeyPatch, local: bool, pool: bool
) -> None:
    """Fail closed: a helper lost while fingerprinting (and, with a local copy of the
    corpus, matching) its piece fails the scan (the file ends ``error``), never a scan
    without that piece; in a pool too, whose other helper lives."""
    monkeypatch.setattr(pieces, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(pieces, "PIECE_BYTES", 200)  # several: the helper takes one

    class Dying(ScanHelper):
        async def submit(self, func: Any, *args: Any) -> asyncio.Future[Any]:
            return await super().submit(os._exit, 1)

    class Matcher:
        async def state(self) -> str | None:

            return "state"

        async def local_snapshot(self) -> Snapshot | None:
            if not local:
                return None
            return Snapshot(Holders.of([np.array([2, 4], dtype=np.int64)]), [])

        async def overlaps(self, units: Any, *, more: Any = None) -> Any:
            if more is not None:
                await more
            return [], {}

    line = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    content = ((json.dumps(line) + "\n") * 50).encode()
    workers = ScanHelpers(2, thread=False, nice=0) if pool else ScanHelpers(1, nice=0)
    workers.helpers[-1] = Dying(nice=0)
    async with workers as helper:
        scanner = UploadScanner(Matcher(), None, helper=helper)  # type: ignore[arg-type]
        with pytest.raises(DependencyUnavailable):
            await scanner.scan(content)
        with pytest.raises(DependencyUnavailable):
            await scanner.recheck(content, "fine-tune")


async def test_a_job_that_raises_fails_with_its_type_only() -> None:
    """The job's exception type, never its message (it could quote the upload)."""
    async with ScanHelper(nice=0) as helper:
        with pytest.raises(DependencyUnavailable, match=r"\(ValueError\)") as failed:
            await helper.run(int, "secret text")
        assert "secret" not in str(failed.value)


async def test_a_reply_of_another_class_is_refused() -> None:
    """The gateway unpickles only the classes a reply holds: anything else fails the job."""
    async with ScanHelper(nice=0) as helper:
        with pytest.raises(DependencyUnavailable, match="unexpected reply"):
            await helper.run(os.stat, "/")


async def test_a_cancelled_job_stops_the_helper() -> None:
    """Cancelled mid-job (a scan interrupted): the helper is killed, so its late answer
    never reaches the next job."""
    async with ScanHelper(nice=0) as helper:
        pid = await helper.run(os.getpid)
        job = asyncio.ensure_future(helper.run(time.sleep, 30))
        await asyncio.sleep(0.2)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert await _gone(pid)
        assert await helper.run(os.getpid) != pid


async def test_a_cancelled_scan_stops_every_busy_helper_of_a_pool() -> None:
    """A scan interrupted while both helpers work: both are killed (their late answers
    never reach the next scan), and the pool serves the next job."""
    async with ScanHelpers(2, thread=False, nice=0) as pool:
        pids = [await one.run(os.getpid) for one in pool.helpers]
        work = asyncio.ensure_future(
            pieces._queue(pool, iter(range(4)), time.sleep, _sleeps, [None] * 4)
        )
        await asyncio.sleep(0.5)
        assert all(one.busy for one in pool.helpers)
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work
        assert all([await _gone(pid) for pid in pids])
        assert await pool.run(os.getpid) not in pids


def _sleeps(_: ScanHelper) -> Any:
    async def job(n: int) -> tuple[Any, tuple[Any, ...]]:
        return time.sleep, (30,)

    return job


async def test_a_pool_starts_its_helpers_on_demand_and_stops_them_all() -> None:
    """No process before a job; leaving the pool reaps every helper, none of which is
    this process, each ``nice``-d."""
    async with ScanHelpers(2, nice=5) as pool:
        assert not any(one.running for one in pool.helpers)
        pids = [await one.run(os.getpid) for one in pool.helpers]
        assert len(set(pids)) == 2
        assert os.getpid() not in pids
        assert [await one.run(os.nice, 0) for one in pool.helpers] == [os.nice(0) + 5] * 2
    assert all([await _gone(pid) for pid in pids])


def test_a_pool_takes_the_thread_along_only_with_one_helper() -> None:
    """One helper (the default): the gateway's thread works too; more: it only
    coordinates, unless told otherwise."""
    assert ScanHelpers().thread
    assert len(ScanHelpers().helpers) == 1
    assert not ScanHelpers(2).thread
    assert ScanHelpers(2, thread=True).thread


_OWNER = """
import asyncio, os, sys
from gateway.finetune.helper import ScanHelper
from gateway.finetune.overlaps import Holders

async def main():
    helper = ScanHelper(nice=0)
    print(await helper.run(os.getpid), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


_POOL_OWNER = """
import asyncio, os
from gateway.finetune.helpers import ScanHelpers

async def main():
    pool = ScanHelpers(2, nice=0)
    for one in pool.helpers:
        print(await one.run(os.getpid), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.parametrize("owner_code", [_OWNER, _POOL_OWNER], ids=["helper", "pool"])
async def test_the_helper_dies_with_a_gateway_that_is_killed(owner_code: str) -> None:
    """SIGKILL of the gateway (no lifespan end): the helper (every helper of a pool)
    follows it."""
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", owner_code, stdout=asyncio.subprocess.PIPE
    )
    assert owner.stdout is not None
    helpers = 2 if owner_code is _POOL_OWNER else 1
    pids = [int(await asyncio.wait_for(owner.stdout.readline(), 60)) for _ in range(helpers)]
    assert not any(_reaped(pid) for pid in pids)
    owner.kill()
    await owner.wait()
    assert all([await _gone(pid) for pid in pids])


def test_replies_of_examples_and_overlaps_are_rebuilt_by_their_constructors() -> None:
    """The helper sends back every example and tens of thousands of overlaps: each is
    pickled as its fields and rebuilt by its class (no per-object ``__setstate__``, the
    slow path of slotted dataclasses), equal field by field, through the gateway's
    restricted unpickler."""
    found = [
        Overlap((3, 4), "doc-a", "legal", "restricted", "c1", 0.75, 12, 5),
        Overlap((9,), "doc-b", "ops", "internal", "c2", 1.0, 40, 0),
    ]
    examples = [Example(1, ("a", "b")), Example(7, ())]
    body = pickle.dumps((True, [found, examples]), protocol=5)
    assert "BUILD" not in {op.name for op, _, _ in pickletools.genops(body)}
    ok, value = _load_reply(body)
    assert ok is True
    assert value == [found, examples]

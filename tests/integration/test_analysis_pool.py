"""The supervised PII worker pool with real Presidio workers: priority, attribution,
replacement of hung and killed workers, nothing left behind."""

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.analysis import AnalysisFailed, AnalysisPool, PoolConfig
from gateway.analysis.process import spawn

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

LINE = "Call Ann Example on +1 415 555 0100 or mail ann.example@example.com today.\n"
POISON = "Ann \ud800 Example"  # a lone surrogate: valid JSON, and Presidio raises on it


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[AnalysisPool]:
    config = PoolConfig(workers=1, batch_max_chars=2048, batch_timeout_s=5)
    async with AnalysisPool(config) as running:
        await running.wait_ready(300)
        yield running


async def _replaced(pool: AnalysisPool, old: int) -> int:
    await asyncio.sleep(0.1)
    await pool.wait_ready(300)
    (pid,) = pool.pids()
    assert pid != old
    return pid


async def test_chat_work_overtakes_a_queued_bulk_job(pool: AnalysisPool) -> None:
    """A chat job submitted while a large bulk job runs is answered before the bulk job
    ends: bulk work is cut into bounded batches and chat goes first."""
    bulk = asyncio.create_task(pool.analyze([LINE * 12] * 30))
    await asyncio.sleep(0.5)
    spans = await pool.analyze_messages(["Mary Major called from Boston."])
    assert not bulk.done()
    assert any(s["type"] == "PERSON" for s in spans[0])
    found = await bulk
    assert len(found) == 30
    assert all(any(s["type"] == "EMAIL_ADDRESS" for s in f) for f in found)


async def test_a_failing_input_fails_only_its_own_request(pool: AnalysisPool) -> None:
    """Two requests analysed in one batch, one of them poison: the batch fails, its
    inputs are retried alone, and only the poison request fails (503)."""
    busy = asyncio.create_task(pool.analyze_messages([LINE * 25]))
    await asyncio.sleep(0.05)  # the worker now holds `busy`; the next two share a batch
    poison = asyncio.create_task(pool.analyze_messages([POISON]))
    good = asyncio.create_task(pool.analyze_messages(["Bob Jones lives in Paris."]))
    await busy
    with pytest.raises(AnalysisFailed) as caught:
        await poison
    assert caught.value.status_code == 503
    assert any(s["type"] == "PERSON" for s in (await good)[0])


async def test_long_texts_are_analysed_in_segments_with_original_offsets(
    pool: AnalysisPool,
) -> None:
    """A text many batches long (and one beyond spaCy's own length limit would behave the
    same) gets every address found, at offsets into the whole text."""
    text = LINE * 300  # ~23k characters, 12+ segments
    (spans,) = await pool.analyze_messages([text])
    emails = [s for s in spans if s["type"] == "EMAIL_ADDRESS"]
    assert len(emails) == 300
    assert all(text[s["start"] : s["end"]] == "ann.example@example.com" for s in emails)


async def test_a_hung_worker_is_killed_and_replaced(pool: AnalysisPool) -> None:
    """A worker that stops answering (SIGSTOP) past the batch timeout is killed; the
    request it held fails closed, and a new worker serves the next one."""
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGSTOP)
    with pytest.raises(AnalysisFailed):
        await pool.analyze_messages(["Held by a hung worker, Ann Example."])
    assert not _alive(pid)
    await _replaced(pool, pid)
    assert (await pool.analyze_messages(["Bob Jones"]))[0]


async def test_a_killed_idle_worker_is_noticed_and_replaced(pool: AnalysisPool) -> None:
    """A worker killed while idle is replaced without waiting for a request; meanwhile
    the pool reports no ready worker."""
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    for _ in range(3000):  # noticed within moments; the replacement takes seconds
        if pool.ready_workers() == 0:
            break
        await asyncio.sleep(0.01)
    assert pool.ready_workers() == 0
    assert pool.pids() == []
    await _replaced(pool, pid)
    assert pool.status()["workers"][0]["restarts"] >= 1


async def test_closing_the_pool_leaves_no_process() -> None:
    """After the lifespan ends, no worker process exists, and later work is refused."""
    async with AnalysisPool(PoolConfig(workers=1)) as own:
        pids = own.pids() or []
        await own.wait_ready(300)
        pids = own.pids()
    assert pids
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(AnalysisFailed):
        await own.analyze_messages(["x"])


async def test_a_worker_spawned_before_the_loop_is_adopted_killed_and_replaced() -> None:
    """A worker started without an event loop (as ``gateway serve`` does before importing
    the app) serves the pool's first slot, is supervised like any other (killed: replaced)
    and the pool starts no second process for that slot."""
    config = PoolConfig(workers=1, batch_timeout_s=10)
    early = spawn(config.python, config.preload)
    async with AnalysisPool(config, [early]) as running:
        await running.wait_ready(300)
        assert running.pids() == [early.pid]
        spans = await running.analyze_messages(["Mary Major called from Boston."])
        assert any(s["type"] == "PERSON" for s in spans[0])
        os.kill(early.pid, signal.SIGKILL)
        for _ in range(600):  # the death is noticed within milliseconds on an idle machine
            if running.pids() != [early.pid]:
                break
            await asyncio.sleep(0.05)
        replacement = await _replaced(running, early.pid)
        spans = await running.analyze_messages(["Mail ann.example@example.com please."])
        assert any(s["type"] == "EMAIL_ADDRESS" for s in spans[0])
    assert not _alive(early.pid)
    assert not _alive(replacement)


async def test_the_pattern_engine_in_a_worker_finds_what_it_finds_in_process(
    pool: AnalysisPool,
) -> None:
    """The fine-tune scan's pattern-only lane run by a worker gives the spans the same
    analyzer gives in this process, for the types asked and no others."""
    from gateway.finetune.pii_patterns import PatternAnalyzer

    texts = [LINE, "server IP address 10.1.2.3, card 4111 1111 1111 1111", "nothing here"]
    types = ["EMAIL_ADDRESS", "IP_ADDRESS"]
    found = await pool.analyze_patterns(texts, types)
    assert found == PatternAnalyzer(types).analyze(texts)
    assert {span["type"] for spans in found for span in spans} == set(types)


async def test_a_worker_killed_holding_two_bulk_batches_loses_neither() -> None:
    """With a second bulk batch already sent to the worker, killing the worker fails
    nothing: the batch it analysed is retried input by input, the one it never reached
    goes back to the queue, and the job's answer equals an undisturbed run's."""
    from gateway.finetune.pii_patterns import PatternAnalyzer

    texts = [
        f"Call +1 415 555 {1000 + n:04d} or mail a{n}@example.com, ref 10.1.2.{n % 250}."
        for n in range(400)
    ]
    types = ["EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER"]
    config = PoolConfig(
        workers=1, preload=(), batch_timeout_s=10, request_timeout_s=30, bulk_in_flight=2
    )
    async with AnalysisPool(config) as running:
        await running.wait_ready(300)
        await running.analyze_patterns(["warm"], types)
        (pid,) = running.pids()
        job = asyncio.create_task(running.analyze_patterns(texts, types))
        await asyncio.sleep(0.05)
        assert not job.done()
        os.kill(pid, signal.SIGKILL)
        found = await job
        assert running.status()["workers"][0]["restarts"] >= 1
    assert found == PatternAnalyzer(types).analyze(texts)

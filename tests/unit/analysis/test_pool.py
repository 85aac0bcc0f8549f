"""The pool's scheduling, without worker processes: chat first, bounded batches, turns."""

import asyncio

import pytest

from gateway.analysis import AnalysisFailed, AnalysisPool, PoolConfig
from gateway.analysis.framing import FrameError, encode, read_frame

MAX = 1024


async def _pool_without_workers() -> AnalysisPool:
    return await AnalysisPool(PoolConfig(workers=0, batch_max_chars=MAX)).__aenter__()


async def test_chat_batches_go_before_bulk_batches_queued_earlier() -> None:
    """Bulk work queued first still waits while any chat work is queued."""
    pool = await _pool_without_workers()
    bulk = asyncio.create_task(pool.analyze(["b" * 500] * 10))
    await asyncio.sleep(0)
    chat = asyncio.create_task(pool.analyze_messages(["hello"]))
    await asyncio.sleep(0)
    lane, batch = await pool._next_batch()
    assert lane.name == "chat"
    assert [item.text for item in batch] == ["hello"]
    lane, batch = await pool._next_batch()
    assert lane.name == "bulk"
    assert sum(len(item.text) for item in batch) <= MAX
    await pool.close()
    for task in (bulk, chat):
        with pytest.raises(AnalysisFailed):
            await task


async def test_jobs_in_a_lane_take_turns_segment_by_segment() -> None:
    """A large job does not hold back a small one queued after it: batches alternate."""
    pool = await _pool_without_workers()
    large = asyncio.create_task(pool.analyze_messages(["word " * 2000]))
    await asyncio.sleep(0)
    small = asyncio.create_task(pool.analyze_messages(["tiny"]))
    await asyncio.sleep(0)
    _, first = await pool._next_batch()
    _, second = await pool._next_batch()
    texts = [item.text for item in first + second]
    assert "tiny" in texts
    assert all(sum(len(i.text) for i in b) <= MAX for b in (first, second))
    await pool.close()
    for task in (large, small):
        with pytest.raises(AnalysisFailed):
            await task


async def test_a_failed_batch_is_retried_one_input_at_a_time() -> None:
    """After a batch fails, its inputs come back alone; one failing alone fails only its
    own job."""
    pool = await _pool_without_workers()
    jobs = [asyncio.create_task(pool.analyze_messages([f"text {n}"])) for n in range(3)]
    await asyncio.sleep(0)
    lane, batch = await pool._next_batch()
    assert len(batch) == 3
    pool._batch_failed(lane, batch, "worker exited")
    singles = [(await pool._next_batch())[1] for _ in range(3)]
    assert [len(b) for b in singles] == [1, 1, 1]
    pool._batch_failed(lane, singles[0], "worker exited")
    for item_batch in singles[1:]:
        item_batch[0].job.answer(item_batch[0].segment, [])
    with pytest.raises(AnalysisFailed):
        await jobs[0]
    assert await jobs[1] == [[]]
    assert await jobs[2] == [[]]
    await pool.close()


async def test_empty_texts_need_no_worker() -> None:
    """Nothing to analyse answers at once, even with no worker."""
    pool = await _pool_without_workers()
    assert await pool.analyze_messages(["", ""]) == [[], []]
    await pool.close()


async def test_a_closed_pool_refuses_work() -> None:
    """After shutdown, analysis fails closed with 503."""
    pool = await _pool_without_workers()
    await pool.close()
    with pytest.raises(AnalysisFailed) as caught:
        await pool.analyze_messages(["x"])
    assert caught.value.status_code == 503


def test_frames_round_trip_and_a_cut_stream_is_an_error() -> None:
    """A frame reads back as sent; a stream ending mid-frame is a FrameError."""
    import io

    frame = encode({"texts": ["Ann", "é"]})
    assert read_frame(io.BytesIO(frame)) == {"texts": ["Ann", "é"]}
    assert read_frame(io.BytesIO(b"")) is None
    with pytest.raises(FrameError):
        read_frame(io.BytesIO(frame[:-1]))


async def test_pattern_jobs_batch_apart_from_full_jobs_and_to_their_own_bounds() -> None:
    """Bulk jobs for different engines never share a batch; a pattern-engine batch may
    hold up to its own (larger) bound, a full-pipeline batch only the general one."""
    pool = await AnalysisPool(
        PoolConfig(
            workers=0,
            batch_max_chars=MAX,
            pattern_batch_max_chars=8 * MAX,
            pattern_batch_quiet_chars=8 * MAX,
        )
    ).__aenter__()
    full = asyncio.create_task(pool.analyze(["f" * 500] * 20))
    await asyncio.sleep(0)
    patterns = asyncio.create_task(pool.analyze_patterns(["p" * 500] * 20, ["EMAIL_ADDRESS"]))
    await asyncio.sleep(0)
    seen = []
    for _ in range(4):
        _, batch = await pool._next_batch()
        engines = {item.job.engine for item in batch}
        assert len(engines) == 1
        seen.append((engines.pop(), sum(len(item.text) for item in batch)))
    assert ("full", 1000) in seen
    assert ("patterns:EMAIL_ADDRESS", 8000) in seen
    await pool.close()
    for task in (full, patterns):
        with pytest.raises(AnalysisFailed):
            await task


async def test_pattern_batches_may_be_smaller_than_a_segment() -> None:
    """A pattern batch bound below the segment minimum groups short windows to it, and a
    long text still goes in whole segments, one per batch."""
    pool = await AnalysisPool(
        PoolConfig(workers=0, pattern_batch_max_chars=300, pattern_batch_quiet_chars=300)
    ).__aenter__()
    short = asyncio.create_task(pool.analyze_patterns(["w" * 100] * 6, None))
    await asyncio.sleep(0)
    _, batch = await pool._next_batch()
    assert [len(item.text) for item in batch] == [100, 100, 100]
    await pool.close()
    with pytest.raises(AnalysisFailed):
        await short
    pool = await AnalysisPool(
        PoolConfig(workers=0, pattern_batch_max_chars=300, pattern_batch_quiet_chars=300)
    ).__aenter__()
    long = asyncio.create_task(pool.analyze_patterns(["word " * 500], None))
    await asyncio.sleep(0)
    _, batch = await pool._next_batch()
    assert len(batch) == 1
    assert 300 < len(batch[0].text) <= 1024
    await pool.close()
    with pytest.raises(AnalysisFailed):
        await long


async def test_pattern_batches_grow_only_while_no_chat_comes() -> None:
    """With no chat work for ``chat_quiet_s``, pattern batches take their larger quiet
    bound; right after a chat job, the ordinary bound again (what a chat text can wait
    behind)."""
    config = PoolConfig(
        workers=0, pattern_batch_max_chars=300, pattern_batch_quiet_chars=600, chat_quiet_s=60
    )
    pool = await AnalysisPool(config).__aenter__()
    bulk = asyncio.create_task(pool.analyze_patterns(["w" * 100] * 30, None))
    await asyncio.sleep(0)
    _, quiet = await pool._next_batch()
    assert sum(len(item.text) for item in quiet) == 600
    chat = asyncio.create_task(pool.analyze_messages(["Hello"]))
    await asyncio.sleep(0)
    lane, _ = await pool._next_batch()
    assert lane.name == "chat"
    _, busy = await pool._next_batch()
    assert sum(len(item.text) for item in busy) == 300
    await pool.close()
    for task in (bulk, chat):
        with pytest.raises(AnalysisFailed):
            await task

import asyncio

import pytest

from gateway.message_pii import CoalescingBatcher
from gateway.pii.analyzer import PiiSpan


class RecordingAnalyzer:
    """Finds one span per text (its length); records each batch; can be held or fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def __call__(self, texts: list[str]) -> list[list[PiiSpan]]:
        self.batches.append(list(texts))
        await self.release.wait()
        if self.fail:
            raise RuntimeError("worker died")
        return [[PiiSpan(type="LEN", start=0, end=len(t), score=1.0)] for t in texts]


async def test_an_idle_batcher_sends_at_once() -> None:
    """A lone request is analysed on its own, straight away."""
    analyzer = RecordingAnalyzer()
    found = await CoalescingBatcher(analyzer)(["ab", "abc"])
    assert analyzer.batches == [["ab", "abc"]]
    assert [spans[0]["end"] for spans in found] == [2, 3]


async def test_requests_arriving_during_a_batch_go_together_and_get_their_own_results() -> None:
    """While one batch is analysed, later requests queue and are sent as one batch; each
    gets exactly its own texts' spans, in order."""
    analyzer = RecordingAnalyzer()
    batcher = CoalescingBatcher(analyzer)
    analyzer.release.clear()
    first = asyncio.create_task(batcher(["a"]))
    await asyncio.sleep(0)
    later = [asyncio.create_task(batcher(["x" * n, "y" * (n + 10)])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    analyzer.release.set()
    results = await asyncio.gather(first, *later)
    assert analyzer.batches == [["a"], ["xx", "y" * 12, "xxx", "y" * 13, "xxxx", "y" * 14]]
    assert [[s[0]["end"] for s in r] for r in results] == [[1], [2, 12], [3, 13], [4, 14]]


async def test_batches_respect_the_size_limit() -> None:
    """No batch holds more texts than the limit (a request is never split)."""
    analyzer = RecordingAnalyzer()
    batcher = CoalescingBatcher(analyzer, max_texts=3)
    analyzer.release.clear()
    tasks = [asyncio.create_task(batcher([f"t{n}", f"u{n}"])) for n in range(4)]
    await asyncio.sleep(0)
    analyzer.release.set()
    await asyncio.gather(*tasks)
    assert [len(b) for b in analyzer.batches] == [2, 2, 2, 2]


async def test_a_failed_batch_fails_each_of_its_requests_and_the_next_batch_still_runs() -> None:
    """The worker's error reaches every request of that batch; later ones are analysed."""
    analyzer = RecordingAnalyzer()
    batcher = CoalescingBatcher(analyzer)
    analyzer.fail = True
    with pytest.raises(RuntimeError, match="worker died"):
        await batcher(["a"])
    analyzer.fail = False
    assert (await batcher(["abc"]))[0][0]["end"] == 3


async def test_a_cancelled_request_does_not_disturb_the_others() -> None:
    """A request cancelled while waiting (client gone) is skipped; the others get results."""
    analyzer = RecordingAnalyzer()
    batcher = CoalescingBatcher(analyzer)
    analyzer.release.clear()
    first = asyncio.create_task(batcher(["a"]))
    await asyncio.sleep(0)
    gone = asyncio.create_task(batcher(["gone"]))
    kept = asyncio.create_task(batcher(["kept"]))
    await asyncio.sleep(0)
    gone.cancel()
    analyzer.release.set()
    assert (await kept)[0][0]["end"] == 4
    await first
    assert analyzer.batches == [["a"], ["kept"]]

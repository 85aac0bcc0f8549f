"""Large CPU steps leave the event loop's thread; small ones stay inline."""

import threading

from gateway.analysis.offload import OFFLOAD_MIN_SIZE, run_sized


async def test_small_work_runs_inline_and_large_work_in_a_thread() -> None:
    """Below the threshold the loop's own thread runs it; at it, another thread does."""
    loop_thread = threading.get_ident()
    small = await run_sized(OFFLOAD_MIN_SIZE - 1, threading.get_ident)
    large = await run_sized(OFFLOAD_MIN_SIZE, threading.get_ident)
    assert small == loop_thread
    assert large != loop_thread


async def test_results_and_errors_come_back_either_way() -> None:
    """The function's value is returned and its exception raised, inline or not."""
    for size in (1, OFFLOAD_MIN_SIZE):
        assert await run_sized(size, sorted, [3, 1, 2]) == [1, 2, 3]
        try:
            await run_sized(size, int, "not a number")
        except ValueError:
            pass
        else:
            raise AssertionError("the error was swallowed")

"""How many bulk batches a worker may hold: a second one only if it fits its input pipe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.analysis.config import PoolConfig
from gateway.analysis.framing import encode

PIPE_BYTES = 64 * 1024


def test_the_default_batches_are_pipelined() -> None:
    """With the default batch bounds a worker holds ``bulk_in_flight`` bulk batches."""
    config = PoolConfig()
    assert config.bulk_batches_held() == config.bulk_in_flight == 2


def test_large_batches_go_one_at_a_time() -> None:
    """Batches of 16k characters could fill the pipe unread: one at a time."""
    assert PoolConfig(batch_max_chars=16_384).bulk_batches_held() == 1


@given(
    chars=st.integers(1024, 100_000),
    quiet=st.integers(512, 20_000),
    texts=st.integers(1, 4096),
)
def test_a_pipelined_batch_always_fits_the_pipe(chars: int, quiet: int, texts: int) -> None:
    """Whenever a second batch is sent unread, its largest possible frame (every
    character escaped, a pattern engine naming many types) fits a 64 KiB pipe."""
    config = PoolConfig(
        batch_max_chars=chars,
        pattern_batch_quiet_chars=quiet,
        batch_max_texts=texts,
        pattern_batch_max_texts=texts,
    )
    if config.bulk_batches_held() == 1:
        return
    largest = max(chars, quiet)
    count = min(texts, largest)
    pieces = ["\x01" * (largest // count)] * count
    engine = "patterns:" + ",".join(["US_DRIVER_LICENSE"] * 60)
    assert len(encode({"engine": engine, "texts": pieces})) <= PIPE_BYTES

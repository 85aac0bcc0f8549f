"""Which ingest runs the local copy of the corpus fetches again."""

from hypothesis import given
from hypothesis import strategies as st

from gateway.finetune.corpus_index import stale_runs

_RUNS = st.dictionaries(
    st.integers(0, 6), st.tuples(st.integers(1, 4), st.integers(0, 3)), max_size=6
)


@given(_RUNS, _RUNS)
def test_every_run_that_differs_is_fetched_and_no_other(
    held: dict[int, tuple[int, int]], current: dict[int, tuple[int, int]]
) -> None:
    """A run is stale exactly when the copy's state of it differs from Elasticsearch's
    (a new run, a run gone, chunks added to or removed from it, or rewritten in place)."""
    stale = stale_runs(held, current)
    for run in held.keys() | current.keys():
        assert (run in stale) == (held.get(run) != current.get(run))
    assert stale <= held.keys() | current.keys()


@given(_RUNS)
def test_a_copy_in_step_fetches_nothing(runs: dict[int, tuple[int, int]]) -> None:
    """States equal to Elasticsearch's: nothing to fetch."""
    assert stale_runs(runs, dict(runs)) == set()

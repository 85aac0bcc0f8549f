"""Which ingest runs the local copy of the corpus fetches again."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from gateway.finetune.corpus_index import stale_runs
from gateway.finetune.corpus_state import RunState

Chunks = dict[str, tuple[int, int]]
"""chunk id -> (ingest run, _seq_no)."""


def states(chunks: Chunks) -> dict[int, RunState]:
    """Per run, what the aggregation reports: chunk count and ``_seq_no`` sum."""
    counts = Counter(run for run, _ in chunks.values())
    sums = Counter[int]()
    for run, seq_no in chunks.values():
        sums[run] += seq_no
    return {run: (counts[run], sums[run]) for run in counts}


# One change to the corpus, as ingests and updates make them: a new run writes chunks
# (new documents, or new versions of documents whose old chunks it deletes), a run is
# pruned, or chunks are rewritten in place (same id and run, a higher _seq_no).
_CHANGE = st.one_of(
    st.tuples(st.just("ingest"), st.integers(1, 4), st.integers(0, 3)),
    st.tuples(st.just("prune"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("rewrite"), st.integers(0, 20), st.integers(1, 3)),
)


def apply(corpus: Chunks, change: tuple[str, int, int], seq: list[int]) -> None:
    """Apply ``change``; ``seq`` is the shard's next ``_seq_no`` (only ever grows)."""
    kind, a, b = change
    runs = sorted({run for run, _ in corpus.values()})
    if kind == "ingest":
        run = (runs[-1] if runs else 0) + 1
        for old in sorted(corpus)[:b]:  # documents replaced by a new version
            del corpus[old]
        for n in range(a):
            seq[0] += 1
            corpus[f"r{run}-{n}"] = (run, seq[0])
    elif kind == "prune" and runs:
        gone = runs[a % len(runs)]
        for chunk_id in [c for c, (run, _) in corpus.items() if run == gone]:
            del corpus[chunk_id]
    elif kind == "rewrite" and corpus:
        for chunk_id in sorted(corpus)[a % len(corpus) :][:b]:
            seq[0] += 1
            corpus[chunk_id] = (corpus[chunk_id][0], seq[0])


@given(st.lists(_CHANGE, max_size=6), st.lists(_CHANGE, min_size=1, max_size=6))
def test_fetching_the_stale_runs_makes_the_copy_equal_the_corpus(
    before: list[tuple[str, int, int]], since: list[tuple[str, int, int]]
) -> None:
    """A copy taken at some point, after any ingests, prunes and in-place rewrites, holds
    exactly Elasticsearch's chunks once the stale runs' chunks are replaced by theirs."""
    corpus: Chunks = {}
    seq = [0]
    for change in before:
        apply(corpus, change, seq)
    copy = dict(corpus)
    for change in since:
        apply(corpus, change, seq)
    stale = stale_runs(states(copy), states(corpus))
    refreshed = {c: v for c, v in copy.items() if v[0] not in stale}
    refreshed.update({c: v for c, v in corpus.items() if v[0] in stale})
    assert refreshed == corpus


@given(st.lists(_CHANGE, max_size=8))
def test_a_copy_in_step_fetches_nothing(changes: list[tuple[str, int, int]]) -> None:
    """States equal to Elasticsearch's: nothing to fetch."""
    corpus: Chunks = {}
    seq = [0]
    for change in changes:
        apply(corpus, change, seq)
    assert stale_runs(states(corpus), states(dict(corpus))) == set()

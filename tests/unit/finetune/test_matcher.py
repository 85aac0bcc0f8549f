"""The corpus matcher's overlap arithmetic, against a direct per-unit computation."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune.matcher import LOCAL_MAX_PRINTS, MIN_SHARED, Chunk, Overlap, Unit
from gateway.finetune.overlaps import Holders, all_overlaps
from gateway.settings import Settings

_PRINT = st.integers(-40, 40)


def _expected(units: list[Unit], held_by: dict[str, set[int]]) -> list[Overlap]:
    """Shared = the unit's prints the chunk holds; score = the larger containment."""
    found = []
    for unit in units:
        mine = {int(p) for p in unit.prints}
        unit_chars = sum(p & 1 for p in mine)
        overlaps = []
        for chunk_id in sorted(held_by):
            theirs = held_by[chunk_id]
            shared = mine & theirs
            if len({p for p in mine if any(p in h for h in held_by.values())}) < MIN_SHARED:
                continue
            if len(shared) < MIN_SHARED:
                continue
            chars = sum(p & 1 for p in shared)
            chunk_chars = sum(p & 1 for p in theirs)
            score = max(
                (len(shared) - chars)
                / max(1, min(len(mine) - unit_chars, len(theirs) - chunk_chars)),
                chars / max(1, min(unit_chars, chunk_chars)),
            )
            lines = unit.lines
            if unit.owners is not None:
                where = np.searchsorted(unit.prints, sorted(shared))
                lines = tuple(sorted({int(x) for x in unit.owners[where]}))
            overlaps.append(
                Overlap(
                    lines,
                    chunk_id,
                    "c",
                    "restricted",
                    chunk_id,
                    round(min(score, 1.0), 4),
                    len(shared),
                    chars,
                )
            )
        found.extend(overlaps)
    return found


def _holders(held_by: dict[str, set[int]]) -> Holders:
    """Chunks in ``held_by``'s order, each holding its prints."""
    return Holders.of([np.array(sorted(prints), dtype=np.int64) for prints in held_by.values()])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sets(_PRINT, max_size=12), min_size=1, max_size=6),
    st.lists(st.sets(_PRINT, min_size=1, max_size=15), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_overlaps_of_all_units_at_once_equal_the_direct_count(
    unit_sets: list[set[int]], chunk_sets: list[set[int]], segment: list[bool]
) -> None:
    """Every (unit, document) pair sharing enough prints, with its exact counts, score
    and lines, whatever the prints (each chunk its own document: no ties to break)."""
    units = []
    for n, prints in enumerate(unit_sets):
        values = np.array(sorted(prints), dtype=np.int64)
        owners = (values % 3 + 10).astype(np.int64) if segment[n] else None
        units.append(Unit((n + 1,) if owners is None else (10, 11, 12), values, owners))
    held_by = {f"d{n}": prints for n, prints in enumerate(chunk_sets)}
    chunks = {
        chunk_id: Chunk(
            chunk_id,
            sum(1 for p in prints if not p & 1),
            sum(1 for p in prints if p & 1),
            {"doc_id": chunk_id, "corpus": "c", "classification": "restricted"},
        )
        for chunk_id, prints in held_by.items()
    }
    assert all_overlaps(units, _holders(held_by), list(chunks.values())) == _expected(
        units, held_by
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sets(_PRINT, max_size=12), min_size=1, max_size=6),
    st.lists(st.sets(_PRINT, min_size=1, max_size=15), min_size=1, max_size=6),
    st.lists(st.integers(0, 2), min_size=6, max_size=6),
)
def test_each_document_is_named_once_by_its_best_chunk(
    unit_sets: list[set[int]], chunk_sets: list[set[int]], document_of: list[int]
) -> None:
    """With several chunks per document, each (unit, document) pair is reported once, by
    the chunk with the higher score, then more shared prints, then the one whose
    smallest shared print comes first; documents in id order."""
    units = [
        Unit((n + 1,), np.array(sorted(prints), dtype=np.int64), None)
        for n, prints in enumerate(unit_sets)
    ]
    held_by = {f"c{n}": prints for n, prints in enumerate(chunk_sets)}
    doc_of = {f"c{n}": f"d{document_of[n]}" for n in range(len(chunk_sets))}
    chunks = {
        chunk_id: Chunk(
            chunk_id,
            sum(1 for p in prints if not p & 1),
            sum(1 for p in prints if p & 1),
            {"doc_id": doc_of[chunk_id], "corpus": "c", "classification": "restricted"},
        )
        for chunk_id, prints in held_by.items()
    }
    per_chunk = _expected(units, held_by)
    expected: list[Overlap] = []
    for line in sorted({o.line for o in per_chunk}):
        mine = {int(p) for p in units[line - 1].prints}
        best: dict[str, Overlap] = {}
        for overlap in per_chunk:
            if overlap.line != line:
                continue
            rank = (-overlap.score, -overlap.shared, min(mine & held_by[overlap.chunk_id]))
            doc_id = doc_of[overlap.chunk_id]
            held = best.get(doc_id)
            if held is None or rank < (
                -held.score,
                -held.shared,
                min(mine & held_by[held.chunk_id]),
            ):
                best[doc_id] = Overlap(
                    overlap.lines,
                    doc_id,
                    "c",
                    "restricted",
                    overlap.chunk_id,
                    overlap.score,
                    overlap.shared,
                    overlap.shared_chars,
                )
        expected.extend(best[doc_id] for doc_id in sorted(best))
    assert all_overlaps(units, _holders(held_by), list(chunks.values())) == expected


_ANY = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.one_of(_ANY, _PRINT), max_size=40), min_size=1, max_size=4),
    st.lists(st.one_of(_ANY, _PRINT), max_size=60),
)
def test_locate_finds_exactly_the_held_prints(held: list[list[int]], probes: list[int]) -> None:
    """The bucketed lookup answers what a binary search does: each value's index in the
    sorted held prints, -1 for a value no chunk holds (extremes and dense ranges too)."""
    holders = Holders.of([np.array(sorted(set(h)), dtype=np.int64) for h in held])
    values = np.array(probes + [int(p) for p in holders.prints[::3]], dtype=np.int64)
    where = holders.locate(values)
    expected = [int(np.searchsorted(holders.prints, v)) for v in values.tolist()]
    for value, found, index in zip(values.tolist(), where.tolist(), expected, strict=True):
        if index < len(holders.prints) and int(holders.prints[index]) == value:
            assert found == index
        else:
            assert found == -1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sets(_PRINT, max_size=12), min_size=1, max_size=8),
    st.lists(st.sets(_PRINT, min_size=1, max_size=15), min_size=1, max_size=5),
    st.lists(st.integers(0, 2), min_size=5, max_size=5),
    st.integers(0, 8),
)
def test_units_matched_in_two_parts_give_the_overlaps_of_all_at_once(
    unit_sets: list[set[int]], chunk_sets: list[set[int]], document_of: list[int], cut: int
) -> None:
    """The scan matches the examples, then the segments: the two results, concatenated,
    are what matching every unit at once gives (ties between chunks included)."""
    units = [
        Unit((n + 1,), np.array(sorted(prints), dtype=np.int64), None)
        for n, prints in enumerate(unit_sets)
    ]
    chunks = [
        Chunk(
            f"c{n}",
            sum(1 for p in prints if not p & 1),
            sum(1 for p in prints if p & 1),
            {"doc_id": f"d{document_of[n]}", "corpus": "c", "classification": "restricted"},
        )
        for n, prints in enumerate(chunk_sets)
    ]
    holders = _holders({f"c{n}": prints for n, prints in enumerate(chunk_sets)})
    whole = all_overlaps(units, holders, chunks)
    cut = min(cut, len(units))
    parts = all_overlaps(units[:cut], holders, chunks) + all_overlaps(units[cut:], holders, chunks)
    assert parts == whole


def test_the_matchers_local_copy_bound_is_the_settings_default() -> None:
    """A matcher built without a bound holds as many fingerprints as the gateway would."""
    field = Settings.model_fields["finetune_local_index_max_prints"]
    assert field.default == LOCAL_MAX_PRINTS

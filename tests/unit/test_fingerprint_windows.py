"""The sliding-window minima that winnowing and the upload's segments are built on."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fingerprint import argmin_runs, sliding_argmin, sliding_min

# A narrow value range, so that windows often hold ties.
_VALUES = st.lists(st.integers(-4, 4), min_size=1, max_size=80)


@given(_VALUES, st.integers(1, 20))
def test_sliding_min_is_each_windows_minimum(values: list[int], window: int) -> None:
    """Every window of ``window`` consecutive values gets its minimum, in order."""
    window = min(window, len(values))
    array = np.array(values, dtype=np.int64)
    expected = [min(values[i : i + window]) for i in range(len(values) - window + 1)]
    assert sliding_min(array, window).tolist() == expected
    assert array.tolist() == values  # the input is left as it was


@given(_VALUES, st.integers(1, 20))
def test_sliding_argmin_names_the_first_place_of_each_minimum(
    values: list[int], window: int
) -> None:
    """On ties the first place in the window wins, as a left-to-right scan would choose."""
    window = min(window, len(values))
    array = np.array(values, dtype=np.int64)
    minima, where = sliding_argmin(array, window)
    for i in range(len(values) - window + 1):
        span = values[i : i + window]
        assert minima[i] == min(span)
        assert where[i] == i + span.index(min(span))
    assert array.tolist() == values


@settings(max_examples=500, deadline=None)
@given(_VALUES, st.integers(1, 20))
def test_argmin_runs_are_where_sliding_argmins_place_changes(
    values: list[int], window: int
) -> None:
    """Each run starts where ``sliding_argmin``'s place changes and carries that place,
    repeats of a window's minimum further on included."""
    window = min(window, len(values))
    array = np.array(values, dtype=np.int64)
    _, where = sliding_argmin(array, window)
    changes = np.flatnonzero(np.r_[True, where[1:] != where[:-1]])
    starts, places = argmin_runs(array, window)
    assert starts.tolist() == changes.tolist()
    assert places.tolist() == where[changes].tolist()
    assert array.tolist() == values

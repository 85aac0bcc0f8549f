import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.finetune.overlaps import rounded4

_RATIOS = st.tuples(st.integers(0, 5000), st.integers(1, 5000)).map(
    lambda pair: min(1.0, pair[0] / pair[1])
)
_NEAR_HALVES = st.tuples(st.integers(0, 9999), st.integers(-4, 4)).map(
    lambda pair: float(
        np.nextafter((pair[0] + 0.5) / 1e4, 2.0 * (pair[1] > 0))
        if pair[1]
        else (pair[0] + 0.5) / 1e4
    )
)


@given(st.lists(st.floats(0.0, 1.0) | _RATIOS | _NEAR_HALVES, max_size=50))
def test_rounded4_is_python_s_round_to_four_places(values: list[float]) -> None:
    """Scores rounded in numpy are the very doubles ``round(value, 4)`` gives, halves
    and values a hair from a half included."""
    got = rounded4(np.array(values, dtype=np.float64)).tolist()
    assert got == [round(value, 4) for value in values]


def test_rounded4_of_exact_halves_and_ties() -> None:
    """Exactly representable halves (1/32 = 0.03125) round as Python rounds them."""
    values = [0.03125, 0.09375, 0.00005, 0.99995, 0.5, 1.0, 0.0, 1 / 3, 2 / 3]
    assert rounded4(np.array(values)).tolist() == [round(value, 4) for value in values]

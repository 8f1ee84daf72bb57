"""openunmix.training.schedule: the shapes of the learning-rate schedules."""

import pytest

from openunmix.training.schedule import FINAL_FRACTION, ONECYCLE_START, shape


def test_schedule_shapes():
    # linear warm-up to the base rate, then the kind's own shape
    assert [shape("plateau", s, 4, 100) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert shape("cosine", 0, 0, 10) == 1.0
    assert shape("cosine", 5, 0, 10) == pytest.approx((1 + FINAL_FRACTION) / 2, rel=1e-12)
    assert shape("cosine", 10, 0, 10) == pytest.approx(FINAL_FRACTION, rel=1e-12)
    assert shape("cosine", 1000, 0, 10) == pytest.approx(FINAL_FRACTION, rel=1e-12)  # held past the horizon
    assert shape("onecycle", 0, 0, 100) == pytest.approx(ONECYCLE_START, rel=1e-12)
    assert shape("onecycle", 30, 0, 100) == pytest.approx(1.0, rel=1e-12)  # the peak at 30 %
    assert shape("onecycle", 100, 0, 100) == pytest.approx(FINAL_FRACTION, rel=1e-12)
    decay = [shape("cosine", s, 2, 20) for s in range(2, 21)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        shape("linear", 0, 0, 1)

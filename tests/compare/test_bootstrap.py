"""openunmix.compare.bootstrap: the median's bootstrap interval."""

import math

import numpy as np

from openunmix.compare import BootstrapSettings, median_ci


def test_bootstrap_interval():
    x = np.random.default_rng(0).normal(3.0, 1.0, 40)
    settings = BootstrapSettings(resamples=1999, seed=1)
    low, high = median_ci(x, settings)
    assert low < np.median(x) < high and high - low < 1.5
    assert median_ci(x, settings) == (low, high)  # seeded: the same scores, the same interval
    assert median_ci(np.append(x, np.nan), settings) == (low, high)  # NaN tracks are left out
    assert all(math.isnan(v) for v in median_ci(np.array([1.0]), settings))
    wide = median_ci(x, BootstrapSettings(confidence=0.99, resamples=1999, seed=1))
    assert wide[0] <= low and wide[1] >= high

"""Bootstrap confidence intervals of a median (scipy.stats.bootstrap, percentile method)."""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class BootstrapSettings:
    """How the confidence interval of a median over tracks is computed.

    Attributes:
        confidence: the interval's confidence level, in (0, 1).
        resamples: bootstrap resamples (of the tracks, with replacement).
        seed: seed of the resampling, so that the same scores give the same interval.
    """

    confidence: float = 0.95
    resamples: int = 9999
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        if self.resamples < 1:
            raise ValueError(f"resamples must be at least 1, got {self.resamples!r}")


def median_ci(values: np.ndarray, settings: BootstrapSettings = BootstrapSettings()) -> Tuple[float, float]:
    """The percentile-bootstrap confidence interval of the median.

    Args:
        values: ``(tracks,)`` per-track scores; NaN values are left out.

    Returns:
        ``(low, high)``; ``(nan, nan)`` with fewer than two values (a single
        value says nothing about the spread).
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(settings.seed)
    kwargs = {"rng": rng} if "rng" in _bootstrap_parameters() else {"random_state": rng}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few distinct values: scipy warns, the interval is still right
        result = stats.bootstrap(
            (x,), np.median, n_resamples=settings.resamples, confidence_level=settings.confidence,
            method="percentile", vectorized=True, **kwargs,
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _bootstrap_parameters() -> Tuple[str, ...]:
    from scipy import stats

    return tuple(inspect.signature(stats.bootstrap).parameters)

"""The metrics an evaluation can compute, by name, and the whole-track ones themselves.

Three metrics (``eval.py --metrics``):

* ``bsseval``: BSSEval v4 (museval; SDR, SIR, ISR, SAR per 1 s frame, the
  SiSEC 2018 "cSDR" when its frame medians are aggregated); slow: minutes per
  song set;
* ``usdr``: the "SDR" of the Music Demixing (MDX 2021) and Sound Demixing
  (SDX 2023) challenges, one ratio over the whole song, averaged over songs
  (:func:`openunmix.metrics.usdr`);
* ``sisdr``: the scale-invariant SDR of the whole song, averaged over songs
  (:func:`openunmix.metrics.sisdr`).

The whole-track metrics take milliseconds per song.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

from ..metrics import EPS, sisdr, usdr  # noqa: F401 (EPS handed on)

BSSEVAL = "bsseval"
USDR = "usdr"
SISDR = "sisdr"
METRIC_NAMES: Tuple[str, ...] = (BSSEVAL, USDR, SISDR)
DEFAULT_METRICS: Tuple[str, ...] = METRIC_NAMES
WHOLE_TRACK: Tuple[str, ...] = (USDR, SISDR)  # the metrics of one value per track and target

# the column each whole-track metric has in results.csv, the tables and compare
COLUMN: Dict[str, str] = {USDR: "uSDR", SISDR: "SI-SDR"}


class MetricError(ValueError):
    """An unknown metric name; the message (one line) lists the known ones."""


def parse_metrics(names: Sequence[str]) -> Tuple[str, ...]:
    """Metric names checked and in the order of :data:`METRIC_NAMES` (repeats dropped).

    Raises:
        MetricError: an unknown or empty name, or none at all.
    """
    names = [n.strip().lower() for n in names]
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown or not names:
        what = f"unknown metric {unknown[0]!r}" if unknown else "no metric named"
        raise MetricError(f"{what}; the metrics are {', '.join(METRIC_NAMES)}")
    return tuple(m for m in METRIC_NAMES if m in names)


WHOLE_TRACK_FUNCTIONS = {USDR: usdr, SISDR: sisdr}


def whole_track_scores(reference: np.ndarray, estimate: np.ndarray,
                       metrics: Sequence[str] = WHOLE_TRACK) -> Dict[str, float]:
    """``{metric: dB}`` of the whole-track metrics among ``metrics`` for ``(channels, samples)`` arrays."""
    return {m: WHOLE_TRACK_FUNCTIONS[m](reference, estimate) for m in WHOLE_TRACK if m in metrics}

"""The metrics an evaluation can compute, by name, and the whole-track ones themselves.

Three metrics (``eval.py --metrics``):

* ``bsseval``: BSSEval v4 (museval; SDR, SIR, ISR, SAR per 1 s frame, the
  SiSEC 2018 "cSDR" when its frame medians are aggregated); slow: minutes per
  song set;
* ``usdr``: the "SDR" of the Music Demixing (MDX 2021) and Sound Demixing
  (SDX 2023) challenges, one ratio over the whole song
  ``10 log10((Σ ref² + ε) / (Σ (ref - est)² + ε))`` over all channels and
  samples, ``ε = 1e-7`` as in the challenges' evaluator; averaged over songs;
* ``sisdr``: the scale-invariant SDR (Le Roux et al., "SDR - half-baked or
  well done?", ICASSP 2019) of each channel over the whole song, averaged
  over the channels: the reference scaled by ``α = <est, ref> / ||ref||²``
  is the target, what is left of the estimate the distortion.

The whole-track metrics take milliseconds per song.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

EPS = 1e-7  # added to both energies, as in the MDX/SDX challenges' evaluator

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


def _pair(reference: np.ndarray, estimate: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape or ref.ndim != 2:
        raise ValueError(f"reference {ref.shape} and estimate {est.shape}: expected two (channels, samples) "
                         "arrays of the same shape")
    return ref, est


def usdr(reference: np.ndarray, estimate: np.ndarray, eps: float = EPS) -> float:
    """The challenges' SDR of one song in dB.

    Args:
        reference, estimate: ``(channels, samples)``, the same shape.

    Returns:
        ``10 log10((Σ ref² + eps) / (Σ (ref - est)² + eps))`` over every channel and sample.
    """
    ref, est = _pair(reference, estimate)
    num = np.sum(ref * ref) + eps
    den = np.sum((ref - est) ** 2) + eps
    return float(10.0 * np.log10(num / den))


def sisdr(reference: np.ndarray, estimate: np.ndarray, eps: float = EPS) -> float:
    """The scale-invariant SDR of one song in dB: per channel over the whole song, then the mean over channels.

    Args:
        reference, estimate: ``(channels, samples)``, the same shape.

    Returns:
        the mean over channels of ``10 log10((||α ref||² + eps) / (||α ref - est||² + eps))`` with
        ``α = (<est, ref> + eps) / (||ref||² + eps)`` (no mean removed).
    """
    ref, est = _pair(reference, estimate)
    alpha = (np.sum(est * ref, axis=1, keepdims=True) + eps) / (np.sum(ref * ref, axis=1, keepdims=True) + eps)
    target = alpha * ref
    ratio = (np.sum(target * target, axis=1) + eps) / (np.sum((target - est) ** 2, axis=1) + eps)
    return float(np.mean(10.0 * np.log10(ratio)))


WHOLE_TRACK_FUNCTIONS = {USDR: usdr, SISDR: sisdr}


def whole_track_scores(reference: np.ndarray, estimate: np.ndarray,
                       metrics: Sequence[str] = WHOLE_TRACK) -> Dict[str, float]:
    """``{metric: dB}`` of the whole-track metrics among ``metrics`` for ``(channels, samples)`` arrays."""
    return {m: WHOLE_TRACK_FUNCTIONS[m](reference, estimate) for m in WHOLE_TRACK if m in metrics}

"""Whole-track separation metrics of ``(channels, samples)`` arrays: the challenges' SDR (uSDR) and SI-SDR.

* :func:`usdr`: the "SDR" of the Music Demixing (MDX 2021) and Sound
  Demixing (SDX 2023) challenges, one ratio over the whole song
  ``10 log10((Σ ref² + ε) / (Σ (ref - est)² + ε))`` over all channels and
  samples, ``ε = 1e-7`` as in the challenges' evaluator (averaged over songs
  by whoever aggregates);
* :func:`sisdr`: the scale-invariant SDR (Le Roux et al., "SDR - half-baked
  or well done?", ICASSP 2019) of each channel over the whole song, averaged
  over the channels.

Used by the evaluation (:mod:`openunmix.evaluation.metrics`) and by the
training's validation.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

EPS = 1e-7  # added to both energies, as in the MDX/SDX challenges' evaluator


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

"""Training losses any architecture may use: MSE of magnitudes, weighted SDR of waveforms.

Shapes follow :mod:`openunmix.separation.separator`:
    magnitude:  ``(batch, channels, bins, frames)``; several targets stacked last,
                ``(batch, channels, bins, frames, targets)``
    waveform:   ``(batch, channels, samples)``; several sources stacked second,
                ``(batch, sources, channels, samples)``

What only one architecture uses (a joint model's loss over groupings of
sources, say) lives in that architecture's module (:mod:`openunmix.architectures`).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

EPS = 1e-8


def magnitude_mse(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean squared error of magnitudes of any (equal) shape, e.g. ``(batch, channels, bins, frames)``."""
    return F.mse_loss(estimate, reference)


def _cosine(a: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    """Cosine similarity over the last axis, ``0`` where either signal is silent."""
    dot = (a * b).sum(-1)
    norm = torch.sqrt((a * a).sum(-1) + eps) * torch.sqrt((b * b).sum(-1) + eps)
    return dot / norm


def weighted_sdr_loss(
    estimate: torch.Tensor, reference: torch.Tensor, mixture: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """Weighted SDR loss, in [-1, 1] (lower is better), averaged over the leading axes.

    With target ``s``, estimate ``ŝ``, mixture ``x``, the noise ``n = x - s``
    and its estimate ``n̂ = x - ŝ``, per signal (per batch item and channel):

        wSDR = -(α·cos(s, ŝ) + (1 - α)·cos(n, n̂)),   α = ‖s‖² / (‖s‖² + ‖n‖²)

    where ``cos`` is the cosine similarity over samples.

    Args:
        estimate, reference, mixture: waveforms of one shape, ``(..., samples)``
            (e.g. ``(batch, channels, samples)``).
    """
    noise = mixture - reference
    noise_est = mixture - estimate
    s_energy = (reference * reference).sum(-1)
    n_energy = (noise * noise).sum(-1)
    alpha = s_energy / (s_energy + n_energy + eps)
    wsdr = -(alpha * _cosine(reference, estimate, eps) + (1 - alpha) * _cosine(noise, noise_est, eps))
    return wsdr.mean()


def masked_waveforms(magnitudes: torch.Tensor, mixture_spec: torch.Tensor, istft: nn.Module,
                     length: int) -> torch.Tensor:
    """Waveforms of estimated magnitudes with the mixture's phase.

    Args:
        magnitudes: ``(batch, channels, bins, frames, targets)``.
        mixture_spec: complex ``(batch, channels, bins, frames)`` (channels
            may be 1 for mono models).
        istft: an :class:`~openunmix.transforms.ISTFT`.
        length: samples of the output.

    Returns:
        ``(batch, targets, channels, samples)``.
    """
    spec = torch.polar(magnitudes.permute(0, 4, 1, 2, 3), mixture_spec.angle()[:, None])
    return istft(spec, length=length)

"""Training losses: MSE on magnitudes (Open-Unmix) and the multi-domain and combination losses of X-UMX.

Shapes follow :mod:`openunmix.model`:
    magnitude:  ``(batch, channels, bins, frames)``; several targets stacked last,
                ``(batch, channels, bins, frames, targets)``
    waveform:   ``(batch, channels, samples)``; several sources stacked second,
                ``(batch, sources, channels, samples)``

X-UMX (Sawata et al., ICASSP 2021) trains all targets jointly with

    loss = freq + mcoef * time

averaged over source groupings: every single source and, with the
combination loss, every sum of two and of three sources (4 + 6 + 4 = 14
groupings for four sources). For a grouping ``G`` the estimate and the
reference are the sums over ``G`` of the sources' magnitudes (``freq``) or
waveforms (``time``):

* ``freq``: mean squared error between the summed magnitudes;
* ``time``: weighted SDR loss (Choi et al., ICLR 2019) of the summed
  waveforms, the estimates being the inverse STFT of the estimated
  magnitudes with the mixture's phase.
"""

from __future__ import annotations

import itertools
from typing import List, Tuple

import torch
import torch.nn.functional as F

EPS = 1e-8


def magnitude_mse(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean squared error of magnitudes of any (equal) shape, e.g. ``(batch, channels, bins, frames)``."""
    return F.mse_loss(estimate, reference)


def source_groups(nb_sources: int, combination: bool = True) -> List[Tuple[int, ...]]:
    """Index groupings the X-UMX loss averages over.

    Every single source; with ``combination``, also every set of 2 .. ``nb_sources - 1``
    sources (the whole set is left out: its sum is the mixture). Four sources
    give 4 groupings without and 14 with the combination loss.
    """
    sizes = range(1, nb_sources) if combination else range(1, 2)
    groups = [g for k in sizes for g in itertools.combinations(range(nb_sources), k)]
    return groups or [(0,)]


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


def masked_waveforms(magnitudes: torch.Tensor, mixture_spec: torch.Tensor, istft, length: int) -> torch.Tensor:
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


def _group_matrix(groups: List[Tuple[int, ...]], nb_sources: int, like: torch.Tensor) -> torch.Tensor:
    """``(groups, sources)`` 0/1 matrix: row ``g`` selects the sources of grouping ``g``."""
    G = torch.zeros(len(groups), nb_sources, dtype=like.dtype, device=like.device)
    for i, g in enumerate(groups):
        G[i, list(g)] = 1.0
    return G


def _grouped_wsdr(wav_estimate: torch.Tensor, wav_reference: torch.Tensor, mixture: torch.Tensor,
                  G: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """:func:`weighted_sdr_loss` of every grouping's summed waveforms, averaged, from inner products.

    Every signal the loss needs (a grouping's estimate and target, and the two
    noises) is a combination with coefficients 0 or ±1 of the basis
    ``[ŝ_k - s_k, s_k, x - Σ s_k]``, so all inner products come from one Gram
    matrix of that basis per batch item and channel: no grouping's waveform is
    ever formed. (The basis keeps the terms of the same size: no large
    cancelling sums in float32.)

    Args:
        wav_estimate, wav_reference: ``(batch, sources, channels, samples)``.
        mixture: ``(batch, channels, samples)``.
        G: ``(groups, sources)`` from :func:`_group_matrix`.
    """
    k = G.shape[1]
    basis = torch.cat([wav_estimate - wav_reference, wav_reference,
                       (mixture - wav_reference.sum(1))[:, None]], dim=1)  # (batch, 2k+1, channels, samples)
    basis = basis.transpose(1, 2)  # (batch, channels, 2k+1, samples)
    Q = basis @ basis.transpose(-1, -2)  # (batch, channels, 2k+1, 2k+1)
    zeros = torch.zeros_like(G)
    one = torch.ones_like(G[:, :1])
    d_g = torch.cat([G, zeros, 0 * one], 1)  # Σ_G (ŝ - s)
    s_g = torch.cat([zeros, G, 0 * one], 1)  # s_G
    n_g = torch.cat([zeros, 1 - G, one], 1)  # x - s_G
    est, noise_est = s_g + d_g, n_g - d_g  # ŝ_G and x - ŝ_G

    def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # (batch, channels, groups)
        return torch.einsum("gi,bcij,gj->bcg", a, Q, b)

    s_energy, n_energy = inner(s_g, s_g), inner(n_g, n_g)
    cos_s = inner(s_g, est) / (torch.sqrt(s_energy + eps) * torch.sqrt(inner(est, est) + eps))
    cos_n = inner(n_g, noise_est) / (torch.sqrt(n_energy + eps) * torch.sqrt(inner(noise_est, noise_est) + eps))
    alpha = s_energy / (s_energy + n_energy + eps)
    return -(alpha * cos_s + (1 - alpha) * cos_n).mean()


def multi_domain_loss(
    mag_estimate: torch.Tensor,
    mag_reference: torch.Tensor,
    wav_estimate: torch.Tensor,
    wav_reference: torch.Tensor,
    mixture: torch.Tensor,
    mcoef: float = 10.0,
    combination: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The X-UMX loss: ``freq + mcoef * time``, both averaged over :func:`source_groups`.

    No grouping's sum is formed: the squared errors of all groupings come from
    the ``(sources, sources)`` Gram matrix of the magnitude errors, and the
    weighted SDR terms from inner products of the waveforms (see
    :func:`_grouped_wsdr`); the values are those of the definitions.

    Args:
        mag_estimate, mag_reference: ``(batch, channels, bins, frames, sources)``.
        wav_estimate, wav_reference: ``(batch, sources, channels, samples)``.
        mixture: ``(batch, channels, samples)``.
        mcoef: weight of the time-domain term.
        combination: also average over sums of 2 .. sources - 1 sources.

    Returns:
        ``(total, freq, time)``, scalars.
    """
    nb_sources = mag_estimate.shape[-1]
    G = _group_matrix(source_groups(nb_sources, combination), nb_sources, mag_estimate)
    diff = (mag_estimate - mag_reference).reshape(-1, nb_sources)
    gram = diff.transpose(0, 1) @ diff  # (sources, sources)
    # Σ over values of (Σ_{k in g} diff_k)² = a_gᵀ gram a_g; the mean over values and groupings
    freq = ((G @ gram) * G).sum() / (diff.shape[0] * G.shape[0])
    time = mag_estimate.new_zeros(())
    if mcoef:
        time = _grouped_wsdr(wav_estimate, wav_reference, mixture, G.to(wav_estimate.dtype))
    return freq + mcoef * time, freq, time

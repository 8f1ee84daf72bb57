"""Causal (online) counterpart of :func:`openunmix.filtering.wiener`, for streams.

The offline filter estimates statistics over windows of frames that reach
into the future: the least-squares gain of the residual model and the
spatial covariance matrices of the EM Wiener filter. Here every statistic of
frame ``t`` is a recursive, exponentially forgetting sum over frames
``<= t``, so a frame's output never depends on later frames and the result
does not depend on how the frames are grouped into blocks.

- ``niter == 0`` without a residual source: exactly
  :func:`~openunmix.filtering.wiener` (the ratio mask is frame-local).
- residual source: the gain that fits the targets' sum to the mixture is
  ``sum_s f^(t-s) |x_s|^a v_s / sum_s f^(t-s) v_s^2`` over past frames.
- ``niter > 0``: per frame, ``niter`` multichannel Wiener steps
  with ``R_j = (f N_j + y_j y_j^H) / (f D_j + v_j)`` where ``N_j``, ``D_j``
  hold the forgotten sums of the past frames' final estimates.

Shapes (frames first, as in :mod:`openunmix.filtering`):
    v: real ``(frames, bins, channels, targets)`` target magnitudes
    x: complex ``(frames, bins, channels)`` mixture STFT
    y: complex ``(frames, bins, channels, sources)`` source estimates
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..filtering import FilterSettings, _invert, wiener


def forgetting_factor(memory: float, n_hop: int, sample_rate: float) -> float:
    """Per-frame factor ``f`` of statistics with a time constant of ``memory`` seconds."""
    if not (math.isfinite(memory) and memory > 0):
        raise ValueError("memory must be a finite number of seconds > 0")
    return math.exp(-n_hop / (memory * sample_rate))


class OnlineFilter:
    """Frame-causal Wiener filter with recursive statistics.

    Args:
        settings: the filter's settings; ``niter`` is the number of
            multichannel Wiener steps per frame (0: ratio mask),
            ``softmask``, ``alpha``, ``logit`` and ``residual`` are as in
            :func:`~openunmix.filtering.wiener` (``wiener_win_len`` and
            ``bin_chunk`` do not apply: there are no windows).
        forget: per-frame forgetting factor of the statistics, in ``(0, 1]``
            (:func:`forgetting_factor`).
        scale: the mixture is divided by this before the Wiener steps (the
            offline filter uses its window's peak magnitude / 10, which a
            stream cannot know; use the peak of a full-scale sinusoid / 10).
    """

    def __init__(self, settings: FilterSettings = FilterSettings(), forget: float = 0.99, scale: float = 1.0):
        if not 0 < forget <= 1:
            raise ValueError("forget must be in (0, 1]")
        self.settings = settings
        self.forget = forget
        self.scale = scale
        self.reset()

    def reset(self) -> None:
        """Forget every statistic (a new stream starts)."""
        self._gain_num: Optional[torch.Tensor] = None  # (bins, channels)
        self._gain_den: Optional[torch.Tensor] = None  # (bins, channels)
        self._cov: Optional[torch.Tensor] = None  # (bins, channels, channels, sources)
        self._power: Optional[torch.Tensor] = None  # (bins, sources)

    def __call__(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Filter consecutive frames.

        Args:
            v: ``(frames, bins, channels, targets)`` target magnitudes.
            x: complex ``(frames, bins, channels)`` mixture.

        Returns:
            complex ``(frames, bins, channels, sources)``, sources = targets
            (+ the residual).
        """
        s = self.settings
        if s.softmask and s.alpha != 1.0:
            v = v**s.alpha
        if s.residual:
            v = self._residual_model(v, x, s.alpha if s.softmask else 1.0)
        y = wiener(v, x, 0, softmask=s.softmask, residual=False, logit=s.logit)
        if not s.niter:
            return y
        return self._wiener_steps(y, x)

    def _residual_model(self, v: torch.Tensor, x: torch.Tensor, alpha: float) -> torch.Tensor:
        """:func:`~openunmix.filtering.residual_model` with the gain summed over past frames.

        ``(frames, bins, channels, targets)`` -> ``(frames, bins, channels, targets + 1)``.
        """
        eps = torch.finfo(v.dtype).eps
        vx = torch.clamp(x.abs() ** alpha, min=eps).to(v.dtype)
        v_total = v.sum(dim=-1)
        if self._gain_num is None:
            self._gain_num = torch.zeros_like(v_total[0])
            self._gain_den = torch.zeros_like(v_total[0])
        gain = torch.empty_like(v_total)
        for t in range(v.shape[0]):
            self._gain_num = self.forget * self._gain_num + vx[t] * v_total[t]
            self._gain_den = self.forget * self._gain_den + v_total[t] ** 2
            gain[t] = self._gain_num / (eps + self._gain_den)
        residual = torch.clamp(vx - v_total, min=0)
        return torch.cat([v * gain.unsqueeze(-1), residual.unsqueeze(-1)], dim=-1)

    def _wiener_steps(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Multichannel Wiener steps, frame after frame, from the initial estimates ``y``."""
        eps = torch.finfo(x.real.dtype).eps
        channels, sources = y.shape[-2], y.shape[-1]
        reg = (eps**0.5) * torch.eye(channels, dtype=x.dtype, device=x.device)
        y = y / self.scale
        x = x / self.scale
        if self._cov is None:
            self._cov = torch.zeros(y.shape[1:2] + (channels, channels, sources), dtype=x.dtype, device=x.device)
            self._power = torch.zeros(y.shape[1:2] + (sources,), dtype=x.real.dtype, device=x.device)
        out = torch.empty_like(y)
        for t in range(y.shape[0]):
            yt, xt = y[t], x[t]  # (bins, channels, sources), (bins, channels)
            for _ in range(self.settings.niter):
                power = torch.view_as_real(yt).square().sum(-1).mean(dim=1)  # (bins, sources)
                cov = self.forget * self._cov + torch.einsum("bis,bjs->bijs", yt, yt.conj())
                cov = cov / (eps + self.forget * self._power + power)[:, None, None, :]
                Cxx = torch.einsum("bs,bijs->bij", power.to(cov.dtype), cov) + reg
                z = torch.einsum("bij,bj->bi", _invert(Cxx, eps), xt)
                yt = torch.einsum("bijs,bj->bis", cov, z) * power.unsqueeze(1)
            out[t] = yt
            power = torch.view_as_real(yt).square().sum(-1).mean(dim=1)
            self._cov = self.forget * self._cov + torch.einsum("bis,bjs->bijs", yt, yt.conj())
            self._power = self.forget * self._power + power
        return out * self.scale

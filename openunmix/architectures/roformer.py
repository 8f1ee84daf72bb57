"""The band-split RoFormer model shared by BS-RoFormer (:mod:`.bs_roformer`) and Mel-RoFormer (:mod:`.mel_roformer`).

The mixture's STFT is cut into frequency bands; each band's real and
imaginary parts (all channels) are normed and projected to ``dim`` features
(:class:`~.roformer_layers.BandSplit`); ``depth`` blocks of two transformers
then attend across time within each band and across bands within each frame
(axial attention, rotary positions); per target, an MLP per band estimates a
complex mask for the band's bins, which multiplies the mixture's STFT.

The two architectures differ only in their bands: BS-RoFormer's are
contiguous and do not overlap (``freqs_per_bands``); Mel-RoFormer's follow a
mel filter bank (``num_bands``), overlap, and the masks of a bin that several
bands hold are averaged. Both are one model class here, given the bins of
each band (:class:`BandRoFormer`).

The model is of the ``spectrogram`` kind
(:class:`~openunmix.architectures.Capabilities`): the Separator takes the STFT
(:class:`RoFormerSettings` says which) and the inverse STFT, and runs long
audio in chunks (``chunk_size`` samples, ``num_overlap`` chunks over each
sample; :mod:`openunmix.separation.steps`). Input ``(batch, channels, bins,
frames, 2)`` (real and imaginary parts), output ``(batch, targets, channels,
bins, frames, 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .roformer_layers import BandSplit, MaskEstimator, RMSNorm, Transformer

# BS-RoFormer's bands for a 2048-point STFT (1025 bins), as published: 24 bands of 2 bins, 12 of 4, 8 of 12,
# 8 of 24, 8 of 48, then 128 and 129 bins
PUBLISHED_BANDS = (2,) * 24 + (4,) * 12 + (12,) * 8 + (24,) * 8 + (48,) * 8 + (128, 129)
PUBLISHED_NFFT = 2048


@dataclass(frozen=True)
class RoFormerSettings:
    """Every setting of a band-split RoFormer (the names are MSST's configuration keys where it has them).

    Attributes:
        targets: the targets, in the order of the mask estimators.
        nb_channels: 1 or 2 (MSST's ``stereo``).
        bands: the bins of each band, ascending (BS: contiguous, each bin
            once; Mel: overlapping).
        dim, depth, heads, dim_head: transformer width, blocks, heads, head size.
        time_transformer_depth, freq_transformer_depth: layers of each
            transformer of a block.
        mask_estimator_depth: linear layers of each band's mask MLP.
        mlp_expansion_factor: the mask MLPs' hidden size over ``dim``.
        attn_dropout, ff_dropout: dropouts while training.
        n_fft, hop_length, win_length, normalized: the STFT (Hann window of
            ``win_length`` samples, centred in ``n_fft``).
        zero_dc: the estimates' 0 Hz bin is set to zero.
        gated: the attention's per-head sigmoid gates (``to_gates``).
        layout: ``"bs"`` (BS-RoFormer: one norm after the last block; mask
            MLPs of ``mask_estimator_depth`` linear layers) or ``"mel"``
            (Mel-RoFormer: every transformer ends with a norm; mask MLPs of
            ``mask_estimator_depth + 1`` layers), as the published code of each
            counts them.
        chunk_size: samples the model sees at once when separating (0: the
            whole input).
        num_overlap: chunks that cover each sample (the chunks step by
            ``chunk_size // num_overlap``).
    """

    targets: Tuple[str, ...]
    nb_channels: int
    bands: Tuple[Tuple[int, ...], ...]
    dim: int = 384
    depth: int = 6
    heads: int = 8
    dim_head: int = 64
    time_transformer_depth: int = 1
    freq_transformer_depth: int = 1
    mask_estimator_depth: int = 2
    mlp_expansion_factor: int = 4
    attn_dropout: float = 0.0
    ff_dropout: float = 0.0
    n_fft: int = 2048
    hop_length: int = 512
    win_length: int = 2048
    normalized: bool = False
    zero_dc: bool = True
    gated: bool = True
    layout: str = "bs"
    chunk_size: int = 0
    num_overlap: int = 2

    @property
    def norm_each(self) -> bool:
        return self.layout == "mel"

    @property
    def mask_layers(self) -> int:
        return self.mask_estimator_depth + (1 if self.layout == "mel" else 0)

    @property
    def nb_bins(self) -> int:
        return self.n_fft // 2 + 1

    def with_targets(self, targets: Sequence[str]) -> "RoFormerSettings":
        return replace(self, targets=tuple(targets))


class BandRoFormer(nn.Module):
    """A band-split RoFormer of one or several targets (see the module docstring).

    Attributes:
        targets: the targets it returns, stacked second (a joint model).
        settings: its :class:`RoFormerSettings`.
    """

    def __init__(self, settings: RoFormerSettings):
        super().__init__()
        s = settings
        self.settings = s
        self.targets = list(s.targets)
        self.nb_channels = s.nb_channels
        self.zero_dc = bool(s.zero_dc)
        self.dim = s.dim
        index = torch.tensor([b for band in s.bands for b in band], dtype=torch.long)
        counts = torch.bincount(index, minlength=s.nb_bins)
        if int(counts.min()) < 1 or index.numel() == 0 or int(index.max()) >= s.nb_bins:
            raise ValueError(f"the bands must cover each of the {s.nb_bins} bins of a {s.n_fft}-point STFT")
        # bins in band order; the masks of a bin that several bands hold are averaged: a product with
        # average[p, f] = 1 / (bands holding f) where picked bin p is bin f (a matrix product, not a scatter:
        # ONNX exports no index_add with repeated indices)
        self.register_buffer("index", index, persistent=False)
        average = torch.zeros(index.numel(), s.nb_bins)
        average[torch.arange(index.numel()), index] = 1.0 / counts[index].to(torch.float32)
        self.register_buffer("average", average, persistent=False)
        self.identity_bands = bool(torch.equal(index, torch.arange(s.nb_bins)))
        widths = [2 * s.nb_channels * len(band) for band in s.bands]
        self.band_split = BandSplit(s.dim, widths)
        common = dict(dim=s.dim, heads=s.heads, dim_head=s.dim_head, attn_dropout=s.attn_dropout,
                      ff_dropout=s.ff_dropout, norm_output=s.norm_each, gated=s.gated)
        self.layers = nn.ModuleList(
            nn.ModuleList([Transformer(depth=s.time_transformer_depth, **common),
                           Transformer(depth=s.freq_transformer_depth, **common)])
            for _ in range(s.depth))
        self.final_norm = None if s.norm_each else RMSNorm(s.dim)
        self.mask_estimators = nn.ModuleList(
            MaskEstimator(s.dim, widths, s.mask_layers, s.mlp_expansion_factor) for _ in s.targets)

    def select_targets(self, targets: Sequence[str]) -> None:
        """Keep the mask estimators of ``targets`` only (in that order; ``ValueError`` for one it lacks)."""
        missing = [t for t in targets if t not in self.targets]
        if missing or not targets:
            raise ValueError(f"the model has no target {missing[0] if missing else '(none given)'!r} "
                             f"(its targets: {', '.join(self.targets)})")
        keep = [self.targets.index(t) for t in targets]
        self.mask_estimators = nn.ModuleList(self.mask_estimators[i] for i in keep)
        self.targets = list(targets)
        self.settings = self.settings.with_targets(targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mixture STFT ``(batch, channels, bins, frames, 2)`` -> targets' STFTs
        ``(batch, targets, channels, bins, frames, 2)`` (real and imaginary parts)."""
        batch, channels, bins, frames, _ = x.shape
        z = x.permute(0, 3, 2, 1, 4)  # (batch, frames, bins, channels, 2)
        picked = z if self.identity_bands else z.index_select(2, self.index)
        # explicit sizes, no -1: ONNX's shape inference loses the feature axis of a reshape to -1
        picked_bins, dim = self.index.shape[0], self.dim
        h = self.band_split(picked.reshape(batch, frames, picked_bins * channels * 2))  # (batch, frames, bands, dim)
        nb_bands = h.shape[2]
        for block in self.layers:  # [across time, across bands]
            h = h.transpose(1, 2).reshape(batch * nb_bands, frames, dim)
            h = block[0](h).reshape(batch, nb_bands, frames, dim).transpose(1, 2)
            h = block[1](h.reshape(batch * frames, nb_bands, dim)).reshape(batch, frames, nb_bands, dim)
        if self.final_norm is not None:
            h = self.final_norm(h)
        outs = []
        for estimator in self.mask_estimators:
            mask = estimator(h).view(batch, frames, picked_bins, channels, 2)
            if not self.identity_bands:  # average the masks of bins that several bands hold
                mask = torch.matmul(mask.permute(0, 1, 3, 4, 2), self.average.to(mask.dtype)).permute(0, 1, 4, 2, 3)
            re = mask[..., 0] * z[..., 0] - mask[..., 1] * z[..., 1]
            im = mask[..., 0] * z[..., 1] + mask[..., 1] * z[..., 0]
            y = torch.stack([re, im], dim=-1)  # (batch, frames, bins, channels, 2)
            if self.zero_dc:
                y = torch.cat([torch.zeros_like(y[:, :, :1]), y[:, :, 1:]], dim=2)
            outs.append(y.permute(0, 3, 2, 1, 4))
        return torch.stack(outs, dim=1)


# ---------------------------------------------------------------- bands


def contiguous_bands(widths: Sequence[int]) -> Tuple[Tuple[int, ...], ...]:
    """The bins of contiguous bands of the given widths, from bin 0."""
    edges = np.cumsum([0] + [int(w) for w in widths])
    return tuple(tuple(range(int(a), int(b))) for a, b in zip(edges[:-1], edges[1:]))


def default_widths(n_fft: int) -> Tuple[int, ...]:
    """BS-RoFormer's band widths for an ``n_fft``-point STFT: the published ones at 2048 points, else the
    published band edges scaled to the number of bins (bands that would be empty are merged)."""
    if n_fft == PUBLISHED_NFFT:
        return PUBLISHED_BANDS
    nb_bins = n_fft // 2 + 1
    edges = np.cumsum((0,) + PUBLISHED_BANDS)[:-1]
    scaled = sorted({int(round(e * (nb_bins - 1) / (PUBLISHED_NFFT // 2))) for e in edges} | {nb_bins})
    scaled = [e for e in scaled if e <= nb_bins]
    return tuple(int(b - a) for a, b in zip(scaled[:-1], scaled[1:]))


def parse_widths(text: str, n_fft: int) -> Tuple[int, ...]:
    """Band widths from ``"24x2,12x4,128,129"`` (``NxW``: N bands of W bins; empty: :func:`default_widths`).

    Raises:
        ValueError: malformed text, or widths that do not add up to the bins of the STFT.
    """
    text = (text or "").strip()
    if not text:
        return default_widths(n_fft)
    widths: List[int] = []
    for part in text.replace(" ", "").split(","):
        count, _, width = part.rpartition("x")
        try:
            n, w = int(count) if count else 1, int(width)
        except ValueError:
            raise ValueError(f"{part!r} is not a width or COUNTxWIDTH") from None
        if n < 1 or w < 1:
            raise ValueError(f"{part!r} must be positive")
        widths += [w] * n
    if sum(widths) != n_fft // 2 + 1:
        raise ValueError(f"the bands hold {sum(widths)} bins, but a {n_fft}-point STFT has "
                         f"{n_fft // 2 + 1}")
    return tuple(widths)


def format_widths(widths: Sequence[int]) -> str:
    """``(2, 2, 4, 129)`` -> ``"2x2,4,129"`` (the inverse of :func:`parse_widths`)."""
    parts, i = [], 0
    widths = list(widths)
    while i < len(widths):
        j = i
        while j < len(widths) and widths[j] == widths[i]:
            j += 1
        parts.append(f"{j - i}x{widths[i]}" if j - i > 1 else str(widths[i]))
        i = j
    return ",".join(parts)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz (3 mel per 200 Hz), logarithmic above (27 mel per factor 6.4)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (math.log(6.4) / 27.0), lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def mel_bands(num_bands: int, n_fft: int, sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
    """Mel-RoFormer's bands: the bins where each triangle of a ``num_bands``-band mel filter bank (Slaney's
    scale, 0 Hz to Nyquist) is positive in float32, with bin 0 in the first band and the last bin in the
    last band.

    Raises:
        ValueError: a bin that no band holds (too many bands for the STFT).
    """
    nb_bins = n_fft // 2 + 1
    freqs = np.arange(nb_bins) * (1.0 / (n_fft * (1.0 / sample_rate)))
    points = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), num_bands + 2))
    gaps = np.diff(points)
    ramps = points[:, None] - freqs[None, :]
    bands = []
    for i in range(num_bands):
        rising, falling = -ramps[i] / gaps[i], ramps[i + 2] / gaps[i + 1]
        weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
        held = set(np.nonzero(weights > 0)[0].tolist())
        if i == 0:
            held.add(0)
        if i == num_bands - 1:
            held.add(nb_bins - 1)
        bands.append(tuple(sorted(held)))
    covered = set(b for band in bands for b in band)
    if len(covered) != nb_bins or any(not band for band in bands):
        raise ValueError(f"{num_bands} mel bands leave bins of a {n_fft}-point STFT uncovered "
                         "or a band empty: use fewer bands or a longer STFT")
    return tuple(bands)


def settings_json(s: RoFormerSettings) -> Dict[str, Any]:
    """The settings as a model folder's json holds them (with ``nfft``/``nhop`` for the Separator)."""
    out = {k: v for k, v in s.__dict__.items() if k not in ("targets", "bands")}
    out.update(nfft=s.n_fft, nhop=s.hop_length, targets=list(s.targets))
    return out


__all__ = ["RoFormerSettings", "BandRoFormer", "PUBLISHED_BANDS", "contiguous_bands", "default_widths",
           "parse_widths", "format_widths", "mel_bands", "settings_json"]

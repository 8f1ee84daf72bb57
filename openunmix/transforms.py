"""Time-frequency transforms on ``torch.stft``/``torch.istft``.

Shapes (names used across the package):
    waveform:  ``(batch, channels, samples)``
    spectrum:  complex ``(batch, channels, bins, frames)`` with ``bins = n_fft // 2 + 1``
    magnitude: real ``(batch, channels, bins, frames)``
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn


class STFT(nn.Module):
    """Short-time Fourier transform with a Hann window.

    Args:
        n_fft: frame length (default 4096).
        n_hop: hop between frames in samples (default 1024).
        center: pad the signal by ``n_fft // 2`` on both sides so that frame
            ``t`` is centred on sample ``t * n_hop``.
        win_length: the Hann window's length (None: ``n_fft``), centred in
            the frame.
        normalized: frames scaled by ``n_fft ** -0.5`` (``torch.stft``'s ``normalized``).
    """

    def __init__(self, n_fft: int = 4096, n_hop: int = 1024, center: bool = True, win_length: Optional[int] = None,
                 normalized: bool = False):
        super().__init__()
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.center = center
        self.win_length = n_fft if win_length is None else int(win_length)
        self.normalized = bool(normalized)
        # not persistent: the window is derived from the settings and stays out of state dicts
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` -> complex ``(batch, channels, bins, frames)``."""
        shape = x.shape
        spec = torch.stft(
            x.reshape(-1, shape[-1]),
            n_fft=self.n_fft,
            hop_length=self.n_hop,
            win_length=self.win_length,
            window=self.window.to(x.dtype),
            center=self.center,
            normalized=self.normalized,
            onesided=True,
            pad_mode="reflect" if shape[-1] > self.n_fft // 2 else "constant",
            return_complex=True,
        )
        return spec.reshape(shape[:-1] + spec.shape[-2:])


class ISTFT(nn.Module):
    """Inverse of :class:`STFT` (overlap-add with window-square normalisation)."""

    def __init__(self, n_fft: int = 4096, n_hop: int = 1024, center: bool = True, win_length: Optional[int] = None,
                 normalized: bool = False):
        super().__init__()
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.center = center
        self.win_length = n_fft if win_length is None else int(win_length)
        self.normalized = bool(normalized)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def forward(self, X: torch.Tensor, length: Optional[int] = None) -> torch.Tensor:
        """complex ``(..., bins, frames)`` -> ``(..., samples)``, cut or padded to ``length``."""
        shape = X.shape
        y = torch.istft(
            X.reshape((-1,) + shape[-2:]),
            n_fft=self.n_fft,
            hop_length=self.n_hop,
            win_length=self.win_length,
            window=self.window.to(X.real.dtype),
            center=self.center,
            normalized=self.normalized,
            onesided=True,
            length=length,
        )
        return y.reshape(shape[:-2] + y.shape[-1:])


class ComplexNorm(nn.Module):
    """Magnitude of a complex spectrum, optionally downmixed to mono.

    complex ``(batch, channels, bins, frames)`` -> real ``(batch, channels', bins, frames)``
    with ``channels' = 1`` when ``mono``.
    """

    def __init__(self, mono: bool = False):
        super().__init__()
        self.mono = mono

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        mag = spec.abs()
        if self.mono:
            mag = mag.mean(dim=1, keepdim=True)
        return mag


class OverlapAdd:
    """Inverse STFT assembled window by window, equal to :class:`ISTFT` on the whole spectrum.

    For long signals whose spectrum is produced in pieces (e.g. by a filter
    working on a few hundred frames at a time): each piece is inverted and
    overlap-added into a waveform buffer as soon as it exists, so the full
    complex spectrum never has to be held in memory.

    Args:
        shape: leading dimensions of the signals, e.g. ``(sources, channels)``.
        frames: total number of STFT frames.
        window: the analysis window (length ``n_fft``).
    """

    def __init__(self, shape: Tuple[int, ...], frames: int, n_fft: int, n_hop: int,
                 window: torch.Tensor, center: bool = True):
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.center = center
        self.window = window
        total = (frames - 1) * n_hop + n_fft
        self.buffer = torch.zeros(shape + (total,), dtype=window.dtype, device=window.device)
        # squared-window envelope of all frames, for the normalisation
        sq = (window**2)[:, None].expand(n_fft, frames)
        self.envelope = torch.nn.functional.fold(
            sq.reshape(1, n_fft, frames), output_size=(1, total), kernel_size=(1, n_fft), stride=(1, n_hop)
        ).reshape(total)

    def add(self, spec: torch.Tensor, first_frame: int) -> None:
        """Overlap-add complex frames ``(*shape, bins, n)`` starting at frame ``first_frame``."""
        n = spec.shape[-1]
        # frames in rows (bins contiguous when the caller's spectrum is stored frame-major,
        # as the Wiener filter writes it): the transform and the adds run along rows
        frames = torch.fft.irfft(spec.transpose(-1, -2), n=self.n_fft, dim=-1)  # (*shape, n, n_fft)
        frames.mul_(self.window)
        start = first_frame * self.n_hop
        if self.n_fft % self.n_hop == 0:
            # frame f covers hop-blocks f .. f + ratio - 1: one strided add per block offset
            ratio = self.n_fft // self.n_hop
            blocks = self.buffer[..., start : start + (n - 1 + ratio) * self.n_hop]
            blocks = blocks.unflatten(-1, (n - 1 + ratio, self.n_hop))
            parts = frames.unflatten(-1, (ratio, self.n_hop))  # (*shape, n, ratio, hop)
            for k in range(ratio):
                blocks[..., k : k + n, :] += parts[..., k, :]
            return
        lead = frames.shape[:-2]
        length = (n - 1) * self.n_hop + self.n_fft
        ola = torch.nn.functional.fold(
            frames.transpose(-1, -2).reshape(-1, self.n_fft, n), output_size=(1, length),
            kernel_size=(1, self.n_fft), stride=(1, self.n_hop),
        ).reshape(lead + (length,))
        self.buffer[..., start : start + length] += ola

    def result(self, length: int) -> torch.Tensor:
        """The waveform ``(*shape, length)``: a view of the buffer, normalised in place (call once: a
        second waveform of a long song is not made beside the buffer)."""
        offset = self.n_fft // 2 if self.center else 0
        env = self.envelope[offset : offset + length]
        out = self.buffer[..., offset : offset + length]
        out.div_(torch.where(env > 1e-11, env, torch.ones_like(env)))
        if out.shape[-1] < length:
            out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
        return out


def make_filterbanks(
    n_fft: int = 4096, n_hop: int = 1024, center: bool = True, win_length: Optional[int] = None,
    normalized: bool = False,
) -> Tuple[STFT, ISTFT]:
    """A matching ``(STFT, ISTFT)`` pair."""
    return (STFT(n_fft, n_hop, center, win_length, normalized),
            ISTFT(n_fft, n_hop, center, win_length, normalized))


def nb_frames(samples: int, n_fft: int = 4096, n_hop: int = 1024, center: bool = True) -> int:
    """Number of STFT frames for a signal of ``samples`` samples."""
    if center:
        return samples // n_hop + 1
    return max(0, (samples - n_fft) // n_hop + 1)

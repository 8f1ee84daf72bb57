"""Small signal helpers of the demo synthesis: pitches, panning, envelopes, oscillators, noise, reverb.

Mono signals are ``(samples,)``, stereo ``(2, samples)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

TABLE_SIZE = 2048  # samples per wavetable period (a power of two)


def midi_to_hz(midi) -> np.ndarray:
    """Frequency in Hz of MIDI pitches (69 = A4 = 440 Hz); any shape."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def pan_gains(pan) -> np.ndarray:
    """Constant-power gains ``(2, ...)`` for pan positions in [-1, 1] (centre: 1 and 1)."""
    theta = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
    return np.stack([np.cos(theta), np.sin(theta)]) * np.sqrt(2.0)


def pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Pan a mono signal ``(samples,)`` to ``(2, samples)``."""
    return pan_gains(pan)[:, None] * x


def add_at(buf: np.ndarray, start: int, x: np.ndarray) -> None:
    """Add ``x`` (``(samples,)`` or ``(channels, samples)``) into ``buf`` from ``start``, cropping."""
    start = max(int(start), 0)
    end = min(buf.shape[-1], start + x.shape[-1])
    if end > start:
        buf[..., start:end] += x[..., : end - start]


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Triangular smoothing (two moving averages of ``width`` samples) along the last axis."""
    if width < 2:
        return x
    pad = [(0, 0)] * (x.ndim - 1) + [(width // 2, width - 1 - width // 2)]
    for _ in range(2):
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=-1)
        c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), c], axis=-1)
        x = (c[..., width:] - c[..., :-width]) / width
    return x


def band_noise(rng: np.random.Generator, n: int, rate: int, low: float, high: float) -> np.ndarray:
    """Unit-variance noise ``(n,)`` with a smooth band-pass between ``low`` and ``high`` Hz."""
    nfft = 1 << max(int(n - 1).bit_length(), 4)  # power of two: fast FFT whatever ``n``
    f = np.fft.rfftfreq(nfft, 1.0 / rate) + 1e-3
    spec = np.fft.rfft(rng.standard_normal(nfft))
    spec *= 1.0 / (1.0 + (low / f) ** 4) / (1.0 + (f / high) ** 4)
    x = np.fft.irfft(spec, nfft)[:n]
    return x / (np.std(x) + 1e-12)


def wavetable(amps: Sequence[float]) -> np.ndarray:
    """One period of a harmonic wave, ``amps[k]`` weighting harmonic k+1, peak 1.

    Shape ``(TABLE_SIZE + 1,)``: the first sample is repeated at the end so that
    interpolation never wraps.
    """
    phase = np.arange(TABLE_SIZE + 1) / TABLE_SIZE * 2.0 * np.pi
    k = np.arange(1, len(amps) + 1)[:, None]
    table = (np.asarray(amps, dtype=np.float64)[:, None] * np.sin(k * phase)).sum(axis=0)
    return table / np.max(np.abs(table))


def osc(tables: np.ndarray, freq, n: int, rate: int, phase0=0.0) -> np.ndarray:
    """Read wavetables at fixed frequencies with linear interpolation.

    ``tables`` is ``(size + 1,)`` or ``(tables, size + 1)``; ``freq`` and
    ``phase0`` (in cycles) are scalars or arrays ``(oscillators,)``.  The result is
    ``([tables,] [oscillators,] n)``.
    """
    freq = np.asarray(freq, dtype=np.float64)[..., None]
    phase0 = np.asarray(phase0, dtype=np.float64)[..., None]
    pos = (phase0 + freq / rate * np.arange(n)) * TABLE_SIZE  # non-negative
    i = pos.astype(np.intp)
    frac = pos - i
    i &= TABLE_SIZE - 1  # wrap to one period (the size is a power of two)
    # one flat np.take per table: much faster than fancy indexing a 2-D table
    rows = np.atleast_2d(tables)
    out = np.stack([np.take(row, i) + np.take(np.diff(row), i) * frac for row in rows])
    return out if np.ndim(tables) == 2 else out[0]


def envelope(
    n: int, rate: int, attack: float, hold: float, release: float, decay: float = np.inf
) -> np.ndarray:
    """Envelope ``(n,)``: attack ramp, exponential decay ``decay``, release after ``hold`` s."""
    t = np.arange(n) / rate
    env = np.minimum(t / max(attack, 1e-4), 1.0) * np.exp(-t / decay)
    after = t > hold
    env[after] *= np.exp(-(t[after] - hold) / max(release, 1e-4))
    env[-min(n, 32):] *= np.linspace(1.0, 0.0, min(n, 32))  # end exactly at zero
    return env


def room(x: np.ndarray, rng: np.random.Generator, rate: int, rt60: float, wet: float) -> np.ndarray:
    """Add a short decorrelated noise-tail reverb to ``x`` ``(2, samples)``; same shape out."""
    m = int(rt60 * rate)
    t = np.arange(m) / rate
    ir = rng.standard_normal((2, m)) * np.exp(-6.91 * t / rt60)
    ir[:, : int(0.012 * rate)] = 0.0  # pre-delay
    ir = smooth(ir, 4)  # darken
    ir /= np.sqrt(np.sum(ir**2, axis=-1, keepdims=True))
    n = x.shape[-1]
    nfft = 1 << int(math.ceil(math.log2(n + m)))
    tail = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(ir, nfft), nfft)[:, :n]
    return x + wet * tail

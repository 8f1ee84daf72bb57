"""Synthetic demo dataset in the MUSDB18 decoded-wav layout.

The generator writes short, musically structured tracks that can stand in for
MUSDB18 when the real data set is not at hand (smoke tests, tutorials, CI)::

    python -m openunmix.demo --root data/demo

Layout, as read by ``musdb.DB(root, is_wav=True)``::

    ROOT/train/demo-train-000 - Synth/{mixture,vocals,drums,bass,other}.wav
    ROOT/train/demo-valid-000 - Synth/...      validation tracks live in train/
    ROOT/test/demo-test-000 - Synth/...
    ROOT/valid_tracks.txt                      validation track names, one a line

Every track has a tempo, a key and a four-chord progression; the stems are

* drums  -- kick, snare and hi-hat on a groove with small variations,
* bass   -- low harmonic notes on the chord roots, one rhythm per track,
* vocals -- a formant-shaped harmonic voice singing phrases separated by
  silence, with vibrato and slow pitch drift, centred in stereo,
* other  -- detuned chord pads or rhythmic keys, spread in stereo.

Audio is 32-bit float wav, stereo; arrays are ``(channels, samples)``.  The
mixture is the exact sum of the four stems as written.  Everything is drawn
from ``numpy`` generators seeded by ``(seed, split, track index)``, so a given
track is bit-identical across runs whatever the number of tracks generated.
"""

from __future__ import annotations

import argparse
import math
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .commands.argtypes import ArgumentParser, nonnegative_int, number, positive_float

SOURCES: Tuple[str, ...] = ("vocals", "drums", "bass", "other")
SPLITS: Tuple[str, ...] = ("train", "valid", "test")  # valid tracks are stored in train/

# scale degrees as semitones above the tonic
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# four-chord progressions as 0-based scale degrees
_PROGRESSIONS_MAJOR = (
    (0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (1, 4, 0, 5), (0, 3, 5, 4)
)
_PROGRESSIONS_MINOR = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2))

# kick placements on a 16-step bar (snare sits on steps 4 and 12)
_KICK_PATTERNS = ((0, 8), (0, 8, 10), (0, 7, 8), (0, 3, 8), (0, 8, 11), (0, 6, 8, 14))
# bass and keys rhythms: (start, length) in eighth notes of a bar
_BASS_RHYTHMS = (
    ((0, 2), (2, 2), (4, 2), (6, 2)),
    ((0, 3), (3, 1), (4, 3), (7, 1)),
    ((0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1)),
    ((0, 4), (4, 2), (6, 2)),
    ((0, 2), (3, 2), (6, 2)),
)
_KEYS_RHYTHMS = (
    ((0, 3), (3, 3), (6, 2)),
    ((0, 2), (2, 2), (4, 2), (6, 2)),
    ((1, 1), (3, 1), (5, 1), (7, 1)),
    ((0, 4), (4, 4)),
)

# vowel formants F1, F2, F3 in Hz (a, e, i, o, u), bandwidths and relative gains
_VOWELS = (
    (800.0, 1200.0, 2500.0),
    (480.0, 1900.0, 2600.0),
    (320.0, 2300.0, 3000.0),
    (520.0, 900.0, 2450.0),
    (350.0, 800.0, 2300.0),
)
_FORMANT_BW = (90.0, 110.0, 170.0)
_FORMANT_GAIN = (1.0, 0.55, 0.3)

_TABLE_SIZE = 2048
_TAIL_S = 2.0  # room left after the last sample for note releases
_SPLIT_CODES = {split: code for code, split in enumerate(SPLITS)}


# ---------------------------------------------------------------------------
# song plan


@dataclass(frozen=True)
class Song:
    """Musical frame shared by all stems of one track."""

    rate: int
    n_samples: int
    bpm: float
    tonic: int  # pitch class of the key, 0 = C
    scale: Tuple[int, ...]  # semitones above the tonic
    chords: Tuple[Tuple[int, ...], ...]  # pitch classes, root first; one chord per bar

    @property
    def beat(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar(self) -> float:
        return 4.0 * self.beat

    @property
    def n_bars(self) -> int:
        return int(math.ceil(self.n_samples / self.rate / self.bar))

    @property
    def scale_pcs(self) -> Tuple[int, ...]:
        return tuple((self.tonic + s) % 12 for s in self.scale)

    def chord(self, bar: int) -> Tuple[int, ...]:
        return self.chords[bar % len(self.chords)]


def plan_song(rng: np.random.Generator, duration: float, rate: int) -> Song:
    """Draw tempo (90-130 bpm), key, mode and a four-chord progression."""
    minor = bool(rng.random() < 0.4)
    scale = _MINOR if minor else _MAJOR
    progressions = _PROGRESSIONS_MINOR if minor else _PROGRESSIONS_MAJOR
    tonic = int(rng.integers(12))
    degrees = progressions[int(rng.integers(len(progressions)))]
    n_tones = 4 if rng.random() < 0.3 else 3  # triads or seventh chords
    chords = tuple(
        tuple((tonic + scale[(d + 2 * j) % 7]) % 12 for j in range(n_tones)) for d in degrees
    )
    return Song(
        rate=rate,
        n_samples=int(round(duration * rate)),
        bpm=float(rng.integers(90, 131)),
        tonic=tonic,
        scale=scale,
        chords=chords,
    )


# ---------------------------------------------------------------------------
# small signal helpers


def _midi_to_hz(midi) -> np.ndarray:
    """Frequency in Hz of MIDI pitches (69 = A4 = 440 Hz); any shape."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _pan_gains(pan) -> np.ndarray:
    """Constant-power gains ``(2, ...)`` for pan positions in [-1, 1] (centre: 1 and 1)."""
    theta = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
    return np.stack([np.cos(theta), np.sin(theta)]) * np.sqrt(2.0)


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Pan a mono signal ``(samples,)`` to ``(2, samples)``."""
    return _pan_gains(pan)[:, None] * x


def _add_at(buf: np.ndarray, start: int, x: np.ndarray) -> None:
    """Add ``x`` (``(samples,)`` or ``(channels, samples)``) into ``buf`` from ``start``, cropping."""
    start = max(int(start), 0)
    end = min(buf.shape[-1], start + x.shape[-1])
    if end > start:
        buf[..., start:end] += x[..., : end - start]


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Triangular smoothing (two moving averages of ``width`` samples) along the last axis."""
    if width < 2:
        return x
    pad = [(0, 0)] * (x.ndim - 1) + [(width // 2, width - 1 - width // 2)]
    for _ in range(2):
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=-1)
        c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), c], axis=-1)
        x = (c[..., width:] - c[..., :-width]) / width
    return x


def _band_noise(rng: np.random.Generator, n: int, rate: int, low: float, high: float) -> np.ndarray:
    """Unit-variance noise ``(n,)`` with a smooth band-pass between ``low`` and ``high`` Hz."""
    nfft = 1 << max(int(n - 1).bit_length(), 4)  # power of two: fast FFT whatever ``n``
    f = np.fft.rfftfreq(nfft, 1.0 / rate) + 1e-3
    spec = np.fft.rfft(rng.standard_normal(nfft))
    spec *= 1.0 / (1.0 + (low / f) ** 4) / (1.0 + (f / high) ** 4)
    x = np.fft.irfft(spec, nfft)[:n]
    return x / (np.std(x) + 1e-12)


def _wavetable(amps: Sequence[float]) -> np.ndarray:
    """One period of a harmonic wave, ``amps[k]`` weighting harmonic k+1, peak 1.

    Shape ``(_TABLE_SIZE + 1,)``: the first sample is repeated at the end so that
    interpolation never wraps.
    """
    phase = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE * 2.0 * np.pi
    k = np.arange(1, len(amps) + 1)[:, None]
    table = (np.asarray(amps, dtype=np.float64)[:, None] * np.sin(k * phase)).sum(axis=0)
    return table / np.max(np.abs(table))


def _osc(tables: np.ndarray, freq, n: int, rate: int, phase0=0.0) -> np.ndarray:
    """Read wavetables at fixed frequencies with linear interpolation.

    ``tables`` is ``(size + 1,)`` or ``(tables, size + 1)``; ``freq`` and
    ``phase0`` (in cycles) are scalars or arrays ``(oscillators,)``.  The result is
    ``([tables,] [oscillators,] n)``.
    """
    freq = np.asarray(freq, dtype=np.float64)[..., None]
    phase0 = np.asarray(phase0, dtype=np.float64)[..., None]
    pos = (phase0 + freq / rate * np.arange(n)) * _TABLE_SIZE  # non-negative
    i = pos.astype(np.intp)
    frac = pos - i
    i &= _TABLE_SIZE - 1  # wrap to one period (the size is a power of two)
    # one flat np.take per table: much faster than fancy indexing a 2-D table
    rows = np.atleast_2d(tables)
    out = np.stack([np.take(row, i) + np.take(np.diff(row), i) * frac for row in rows])
    return out if np.ndim(tables) == 2 else out[0]


def _envelope(
    n: int, rate: int, attack: float, hold: float, release: float, decay: float = np.inf
) -> np.ndarray:
    """Envelope ``(n,)``: attack ramp, exponential decay ``decay``, release after ``hold`` s."""
    t = np.arange(n) / rate
    env = np.minimum(t / max(attack, 1e-4), 1.0) * np.exp(-t / decay)
    after = t > hold
    env[after] *= np.exp(-(t[after] - hold) / max(release, 1e-4))
    env[-min(n, 32):] *= np.linspace(1.0, 0.0, min(n, 32))  # end exactly at zero
    return env


def _room(x: np.ndarray, rng: np.random.Generator, rate: int, rt60: float, wet: float) -> np.ndarray:
    """Add a short decorrelated noise-tail reverb to ``x`` ``(2, samples)``; same shape out."""
    m = int(rt60 * rate)
    t = np.arange(m) / rate
    ir = rng.standard_normal((2, m)) * np.exp(-6.91 * t / rt60)
    ir[:, : int(0.012 * rate)] = 0.0  # pre-delay
    ir = _smooth(ir, 4)  # darken
    ir /= np.sqrt(np.sum(ir**2, axis=-1, keepdims=True))
    n = x.shape[-1]
    nfft = 1 << int(math.ceil(math.log2(n + m)))
    tail = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(ir, nfft), nfft)[:, :n]
    return x + wet * tail


# ---------------------------------------------------------------------------
# drums


@dataclass(frozen=True)
class _Kit:
    """Drum sound parameters, fixed for a track (times in s, frequencies in Hz)."""

    kick_f0: float
    kick_f1: float
    kick_sweep: float
    kick_decay: float
    snare_f: float
    snare_decay: float
    snare_tone: float
    hat_decay: float


def _kick(rng: np.random.Generator, rate: int, kit: _Kit) -> np.ndarray:
    """Pitch-dropping sine with a fast decay and a short click: ``(samples,)``."""
    t = np.arange(int(0.45 * rate)) / rate
    freq = kit.kick_f1 + (kit.kick_f0 - kit.kick_f1) * np.exp(-t / kit.kick_sweep)
    body = np.sin(2.0 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / kit.kick_decay)
    m = int(0.01 * rate)
    body[:m] += 0.3 * _band_noise(rng, m, rate, 1500.0, 8000.0) * np.exp(-t[:m] / 0.0015)
    body *= np.minimum(t / 0.001, 1.0)
    return np.tanh(1.4 * body) / np.tanh(1.4)


def _snare(rng: np.random.Generator, rate: int, kit: _Kit) -> np.ndarray:
    """Band-passed noise burst plus a two-mode tonal body: ``(samples,)``."""
    t = np.arange(int(0.3 * rate)) / rate
    noise = _band_noise(rng, t.size, rate, 900.0, 9000.0) * np.exp(-t / kit.snare_decay)
    w = 2.0 * np.pi * kit.snare_f * t
    body = (np.sin(w) + 0.5 * np.sin(1.48 * w)) * np.exp(-t / 0.045)
    x = 0.45 * noise + kit.snare_tone * body
    return x * np.minimum(t / 0.0008, 1.0)


def _hat(rng: np.random.Generator, rate: int, kit: _Kit, open_: bool) -> np.ndarray:
    """Short high-passed noise; ``open_`` rings longer: ``(samples,)``."""
    decay = kit.hat_decay * (6.0 if open_ else 1.0)
    t = np.arange(int(min(7.0 * decay, 0.5) * rate)) / rate
    x = _band_noise(rng, t.size, rate, 7000.0, 16000.0) * np.exp(-t / decay)
    return 0.35 * x * np.minimum(t / 0.0005, 1.0)


def render_drums(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Kick on 1 and 3 (with variations), snare on 2 and 4, hats on eighths: ``(2, samples)``."""
    rate = song.rate
    kit = _Kit(
        kick_f0=rng.uniform(110.0, 170.0),
        kick_f1=rng.uniform(42.0, 58.0),
        kick_sweep=rng.uniform(0.02, 0.045),
        kick_decay=rng.uniform(0.12, 0.25),
        snare_f=rng.uniform(165.0, 240.0),
        snare_decay=rng.uniform(0.05, 0.1),
        snare_tone=rng.uniform(0.3, 0.7),
        hat_decay=rng.uniform(0.012, 0.025),
    )
    kicks = _KICK_PATTERNS[int(rng.integers(len(_KICK_PATTERNS)))]
    kicks_alt = _KICK_PATTERNS[int(rng.integers(len(_KICK_PATTERNS)))]
    sixteenth_hats = bool(rng.random() < 0.3)
    hat_pan = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.45))
    snare_pan = float(rng.uniform(-0.12, 0.12))
    step = song.beat / 4.0

    out = np.zeros((2, song.n_samples + int(_TAIL_S * rate)))
    for bar in range(song.n_bars):
        hits: List[Tuple[int, str, float]] = []
        for s in kicks_alt if rng.random() < 0.25 else kicks:
            hits.append((s, "kick", 1.0))
        hits += [(4, "snare", 1.0), (12, "snare", 1.0)]
        fill = bar % 4 == 3 and rng.random() < 0.5
        if fill:
            hits += [(13, "snare", 0.5), (14, "snare", 0.65), (15, "snare", 0.8)]
        elif rng.random() < 0.3:
            hits.append((int(rng.choice([7, 10, 15])), "snare", 0.25))  # ghost note
        open_step = 14 if rng.random() < 0.25 else -1
        for s in range(0, 16, 1 if sixteenth_hats else 2):
            if fill and s > 12:
                continue
            vel = 1.0 if s % 4 == 0 else (0.75 if s % 2 == 0 else 0.5)
            hits.append((s, "open" if s == open_step else "hat", vel))

        for s, kind, vel in hits:
            time = bar * song.bar + s * step + rng.normal(0.0, 0.003)
            vel *= float(np.clip(1.0 + 0.08 * rng.standard_normal(), 0.7, 1.25))
            if kind == "kick":
                x, pan = _kick(rng, rate, kit), 0.0
            elif kind == "snare":
                x, pan = _snare(rng, rate, kit), snare_pan
            else:
                x, pan = _hat(rng, rate, kit, kind == "open"), hat_pan
            _add_at(out, int(round(time * rate)), _pan(vel * x, pan))
    return _room(out, rng, rate, rt60=0.3, wet=0.15)


# ---------------------------------------------------------------------------
# bass


def _bass_midi(midi: int) -> int:
    """Fold a pitch into MIDI 28-45 (41-110 Hz)."""
    while midi > 45:
        midi -= 12
    while midi < 28:
        midi += 12
    return midi


def render_bass(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Plucked harmonic bass on the chord roots, one rhythm per track: ``(2, samples)``."""
    rate = song.rate
    rhythm = _BASS_RHYTHMS[int(rng.integers(len(_BASS_RHYTHMS)))]
    k = np.arange(1, 9)
    dull, bright = _wavetable([1.0, 0.22, 0.05]), _wavetable(k ** -rng.uniform(1.4, 1.9))
    tables = np.stack([dull, bright])
    tone_decay = rng.uniform(0.05, 0.12)
    decay = rng.uniform(0.6, 1.5)
    gate = rng.uniform(0.8, 0.95)
    eighth = song.beat / 2.0

    out = np.zeros(song.n_samples + int(_TAIL_S * rate))
    for bar in range(song.n_bars):
        root = _bass_midi(28 + (song.chord(bar)[0] - 28) % 12)
        for j, (start, length) in enumerate(rhythm):
            midi = root
            if j == len(rhythm) - 1 and len(rhythm) > 1 and rng.random() < 0.35:
                midi = _bass_midi(root + int(rng.choice([7, 12])))  # fifth or octave
            hold = length * eighth * gate
            n = int((hold + 0.06) * rate)
            freq = float(_midi_to_hz(midi))
            t = np.arange(n) / rate
            dull, bright = _osc(tables, freq, n, rate, rng.random())
            x = dull + (bright - dull) * np.exp(-t / tone_decay)
            vel = (1.0 if start % 2 == 0 else 0.8) * rng.uniform(0.85, 1.0)
            x *= vel * _envelope(n, rate, attack=0.004, hold=hold, release=0.015, decay=decay)
            _add_at(out, int(round((bar * song.bar + start * eighth) * rate)), x)
    return np.stack([out, out])


# ---------------------------------------------------------------------------
# vocals


@dataclass(frozen=True)
class _Note:
    """One sung syllable."""

    start: float  # seconds
    dur: float  # seconds
    midi: float
    vowel: int
    vel: float


@dataclass(frozen=True)
class _Voice:
    """Singer parameters, fixed for a track."""

    centre: int
    vib_rate: float
    vib_depth: float  # semitones
    formant_scale: float
    tilt: float
    breath: float


def _plan_melody(song: Song, rng: np.random.Generator, voice: _Voice) -> List[List[_Note]]:
    """Phrases of 4-8 beats on chord and scale tones, each followed by at least 2.5 beats of rest."""
    beat = song.beat
    total_beats = song.n_samples / song.rate / beat
    lo, hi = voice.centre - 6, voice.centre + 8
    scale = [m for m in range(lo, hi + 1) if m % 12 in song.scale_pcs]
    phrases: List[List[_Note]] = []
    pos = 4.0 * (1 if song.n_bars >= 3 else 0) + float(rng.choice([0.0, 0.5, 1.0]))
    prev = voice.centre
    while pos < total_beats - 1.0:
        target = float(rng.integers(4, 8))
        notes: List[_Note] = []
        used = 0.0
        while used < target:
            dur = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
            last = used + dur >= target
            if last:
                dur = max(dur, 1.5)
            bar = int((pos + used) // 4)
            chord = [m for m in scale if m % 12 in song.chord(bar)]
            if not notes or last or rng.random() < 0.6:
                pool = [m for m in chord if abs(m - prev) <= (7 if not notes else 5)] or chord
            else:
                pool = [m for m in scale if 0 < abs(m - prev) <= 3] or scale
            weights = 1.0 / (1.0 + np.abs(np.array(pool) - prev))
            prev = int(rng.choice(pool, p=weights / weights.sum()))
            notes.append(
                _Note(
                    start=(pos + used) * beat,
                    dur=dur * beat,
                    midi=float(prev),
                    vowel=int(rng.integers(len(_VOWELS))),
                    vel=float(rng.uniform(0.75, 1.0)),
                )
            )
            used += dur
        phrases.append(notes)
        rest = pos + used + 2.5  # at least 2.5 beats of silence, then the next bar
        pos = 4.0 * math.ceil(rest / 4.0) + float(rng.choice([0.0, 0.0, 0.5, 1.0]))
        if rng.random() < 0.3:
            pos += 4.0
    return phrases


def _sing_phrase(notes: List[_Note], rng: np.random.Generator, rate: int, voice: _Voice) -> np.ndarray:
    """Render one phrase as a mono signal ``(samples,)`` starting at the first note onset.

    Source-filter model: harmonics of a glottal-like source (spectral tilt) are
    weighted by a three-formant envelope evaluated at each harmonic frequency,
    with formants gliding between the vowels of successive syllables.
    """
    t0 = notes[0].start
    end = notes[-1].start + notes[-1].dur - t0
    n = int((end + 0.12) * rate)
    t = np.arange(n) / rate
    onsets = np.array([nt.start - t0 for nt in notes])
    idx = np.clip(np.searchsorted(onsets, t, side="right") - 1, 0, len(notes) - 1)
    since = t - onsets[idx]

    # pitch: notes with portamento, delayed vibrato and slow drift
    midi = _smooth(np.array([nt.midi for nt in notes])[idx], int(0.03 * rate))
    depth = _smooth(voice.vib_depth * np.clip((since - 0.12) / 0.3, 0.0, 1.0), int(0.05 * rate))
    vib_rate = voice.vib_rate * (1.0 + 0.05 * rng.standard_normal())
    vibrato = depth * np.sin(2.0 * np.pi * vib_rate * t + rng.uniform(0, 2 * np.pi))
    knots = np.arange(0.0, end + 0.5, 0.25)
    drift = _smooth(np.interp(t, knots, rng.normal(0.0, 0.08, knots.size)), int(0.1 * rate))
    f0 = _midi_to_hz(midi + vibrato + drift)
    phase = 2.0 * np.pi * np.cumsum(f0) / rate

    # loudness: per-syllable level with a small dip at each new syllable, release at the end
    level = _smooth(np.array([nt.vel for nt in notes])[idx], int(0.02 * rate))
    dip = np.where(idx > 0, 0.65 + 0.35 * np.clip(since / 0.05, 0.0, 1.0), 1.0)
    amp = level * _smooth(dip, int(0.01 * rate)) * _envelope(n, rate, 0.04, end, 0.035)

    # formant tracks (3, n) at a control rate, smoothed across syllables
    hop = 32
    vowels = np.array(_VOWELS)[[nt.vowel for nt in notes]] * voice.formant_scale  # (notes, 3)
    formants = _smooth(vowels[idx[::hop]].T, max(2, int(0.06 * rate / hop)))
    f0c = f0[::hop]
    limit = min(6000.0, 0.45 * rate)
    n_harm = int(limit / f0.min())
    k = np.arange(1, n_harm + 1)[:, None]
    fk = k * f0c[None, :]  # (harmonics, frames)
    env = 0.02 + sum(
        g / (1.0 + ((fk - formants[i][None, :]) / (0.5 * bw)) ** 2)
        for i, (bw, g) in enumerate(zip(_FORMANT_BW, _FORMANT_GAIN))
    )
    weights = env * k ** -voice.tilt * np.clip((limit - fk) / 400.0, 0.0, 1.0)

    # sum harmonics with a complex rotation (sin(k*phase) without k calls to sin)
    weights = np.concatenate([weights, weights[:, -1:]], axis=1)  # guard column for i + 1
    i = np.arange(n) // hop
    frac = (np.arange(n) % hop) / hop
    z = np.exp(1j * phase)
    zk = np.ones(n, dtype=np.complex128)
    x = np.zeros(n)
    for h in range(n_harm):
        zk *= z
        w0 = weights[h, i]
        x += (w0 + (weights[h, i + 1] - w0) * frac) * zk.imag
    x /= np.max(np.abs(x)) + 1e-12

    # breath noise inside the phrase and short consonant bursts on some syllables
    x += voice.breath * _band_noise(rng, n, rate, 1500.0, 9000.0) * np.clip(level, 0, 1)
    for nt, onset in zip(notes[1:], onsets[1:]):
        if rng.random() < 0.4:
            m = int(rng.uniform(0.02, 0.05) * rate)
            burst = _band_noise(rng, m, rate, 3500.0, 10000.0) * np.hanning(m)
            _add_at(x, int(onset * rate) - m // 2, 0.15 * nt.vel * burst)
    return x * amp


def render_vocals(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Sung phrases with silent pauses between them, centred: ``(2, samples)``."""
    rate = song.rate
    high = rng.random() < 0.5
    voice = _Voice(
        centre=int(rng.integers(63, 69) if high else rng.integers(55, 61)),
        vib_rate=float(rng.uniform(5.0, 6.0)),
        vib_depth=float(rng.uniform(0.2, 0.45)),
        formant_scale=float(rng.uniform(1.05, 1.18) if high else rng.uniform(0.92, 1.05)),
        tilt=float(rng.uniform(0.9, 1.3)),
        breath=float(rng.uniform(0.006, 0.02)),
    )
    out = np.zeros(song.n_samples + int(_TAIL_S * rate))
    for notes in _plan_melody(song, rng, voice):
        _add_at(out, int(round(notes[0].start * rate)), _sing_phrase(notes, rng, rate, voice))
    return np.stack([out, out])


# ---------------------------------------------------------------------------
# other: pads or keys


def render_other(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Chords as sustained detuned pads or rhythmic keys, spread in stereo: ``(2, samples)``."""
    rate = song.rate
    pad = bool(rng.random() < 0.5)
    k = np.arange(1, 11)
    if pad:
        tables = _wavetable(k ** -1.3 * np.exp(-k / rng.uniform(3.0, 6.0)))
        rhythm: Tuple[Tuple[int, int], ...] = ((0, 8),)
    else:
        tables = np.stack([_wavetable([1.0, 0.3, 0.08]), _wavetable(k ** -rng.uniform(1.0, 1.5))])
        rhythm = _KEYS_RHYTHMS[int(rng.integers(len(_KEYS_RHYTHMS)))]
    attack = rng.uniform(0.15, 0.4) if pad else 0.003
    release = rng.uniform(0.15, 0.25) if pad else 0.04
    decay = np.inf if pad else rng.uniform(0.4, 0.9)
    tone_decay = rng.uniform(0.1, 0.3)
    cents = rng.uniform(4.0, 10.0)
    spread = rng.uniform(0.2, 0.5)
    centre = rng.uniform(-0.25, 0.25)
    low = int(rng.integers(52, 57))  # voicings sit in [low, low + 12)
    eighth = song.beat / 2.0

    out = np.zeros((2, song.n_samples + int(_TAIL_S * rate)))
    for bar in range(song.n_bars):
        tones = [low + (pc - low) % 12 for pc in song.chord(bar)]
        for start, length in rhythm:
            hold = length * eighth * (1.0 if pad else 0.9)
            n = int((hold + 5.0 * release) * rate)
            env = _envelope(n, rate, attack, hold, release, decay)
            brightness = np.exp(-np.arange(n) / (tone_decay * rate))
            vel = rng.uniform(0.85, 1.0) * (1.0 if pad or start % 2 == 0 else 0.8)
            # all oscillators of the chord at once: each tone twice, detuned down and up
            detune = np.tile([-1.0, 1.0], len(tones))
            spots = np.repeat(0.5 + 0.5 * np.arange(len(tones)) / max(len(tones) - 1, 1), 2)
            freqs = _midi_to_hz(np.repeat(tones, 2) + detune * cents / 100.0)
            x = _osc(tables, freqs, n, rate, rng.random(freqs.size))  # ([2,] oscillators, n)
            if not pad:  # keys: bright attack fading to a duller tone
                x = x[0] + (x[1] - x[0]) * brightness
            stereo = _pan_gains(centre + spread * detune * spots) @ x  # (2, n)
            onset = int(round((bar * song.bar + start * eighth) * rate))
            _add_at(out, onset, stereo * (vel * env))
    return _room(out, rng, rate, rt60=0.5 if pad else 0.35, wet=0.2)


# ---------------------------------------------------------------------------
# track assembly


def _balance(stems: Dict[str, np.ndarray], rng: np.random.Generator) -> Dict[str, float]:
    """Gains that set realistic relative levels and a mixture peak of 0.6-0.85.

    ``stems`` maps source names to contiguous ``(2, samples)`` arrays.  Drums,
    bass and other get levels within a few dB of each other; the vocals get
    about the energy of the whole accompaniment (-2 to +1 dB).
    """
    energy = {name: float(np.vdot(x, x)) for name, x in stems.items()}
    levels_db = {
        "drums": rng.uniform(-1.0, 1.0),
        "bass": rng.uniform(-3.5, -0.5),
        "other": rng.uniform(-5.0, -1.0),
    }
    gains = {}
    for name, db in levels_db.items():
        gains[name] = 10.0 ** (db / 20.0) / math.sqrt(energy[name]) if energy[name] > 0 else 0.0
    # energy of the accompaniment sum, from the pairwise products (no temporary arrays)
    accompaniment = sum(
        gains[a] * gains[b] * float(np.vdot(stems[a], stems[b])) for a in levels_db for b in levels_db
    )
    vocal_db = rng.uniform(-2.0, 1.0)
    gains["vocals"] = 0.0
    if energy["vocals"] > 0:
        gains["vocals"] = math.sqrt(max(accompaniment, 0.0) / energy["vocals"]) * 10.0 ** (vocal_db / 20.0)
    mixture = sum(gains[name] * stems[name] for name in SOURCES)
    peaks = [float(np.max(np.abs(mixture)))]
    peaks += [gains[name] * float(np.max(np.abs(stems[name]))) for name in SOURCES]
    scale = rng.uniform(0.6, 0.85) / max(peaks) if max(peaks) > 0 else 1.0
    return {name: gains[name] * scale for name in SOURCES}


def synthesize_track(
    rng: np.random.Generator, duration: float, rate: int = 44100
) -> Dict[str, np.ndarray]:
    """Synthesize one track.

    Returns a dict with ``'mixture'`` and the four stems ``'vocals'``, ``'drums'``,
    ``'bass'``, ``'other'``; each a float32 array ``(2, samples)`` with
    ``samples = round(duration * rate)``.  ``mixture`` is the sum of the float32
    stems, rounded once to float32.
    """
    if not round(duration * rate) >= 1:
        raise ValueError(f"duration {duration!r} s is shorter than one sample at {rate} Hz")
    song = plan_song(rng, duration, rate)
    renderers = {
        "vocals": render_vocals,
        "drums": render_drums,
        "bass": render_bass,
        "other": render_other,
    }
    # independent generators per stem (numpy>=1.22 compatible, unlike Generator.spawn)
    seeds = rng.integers(0, 2**63 - 1, size=len(SOURCES) + 1)
    children = {name: np.random.default_rng(int(s)) for name, s in zip(SOURCES + ("mix",), seeds)}
    n = song.n_samples
    m = min(n, int(0.02 * rate))
    stems = {}
    for name in SOURCES:
        x = np.ascontiguousarray(renderers[name](song, children[name])[:, :n])
        x[:, n - m :] *= np.linspace(1.0, 0.0, m)  # fade out the cut at the end
        stems[name] = x
    gains = _balance(stems, children["mix"])
    out = {name: (stems[name] * gains[name]).astype(np.float32) for name in SOURCES}
    mixture = out["vocals"].astype(np.float64)
    for name in SOURCES[1:]:
        mixture += out[name]
    out["mixture"] = mixture.astype(np.float32)
    return out


def track_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Generator of one track, derived from ``(seed, split, index)`` only."""
    return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])


def track_name(split: str, index: int) -> str:
    """Folder name of a track, e.g. ``'demo-valid-001 - Synth'`` (musdb reads "artist - title")."""
    return f"demo-{split}-{index:03d} - Synth"


def track_folder(root: Union[str, Path], split: str, index: int) -> Path:
    """Folder of a track: ``root/train/<name>`` for train and valid tracks, ``root/test/<name>``."""
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(root) / ("test" if split == "test" else "train") / track_name(split, index)


def write_wav(path: Union[str, Path], audio: np.ndarray, rate: int) -> None:
    """Write ``audio`` ``(channels, samples)`` as a 32-bit float wav.

    The header is written here rather than by libsndfile, whose float wav files
    carry a time-stamped PEAK chunk and so differ from run to run.  The file is
    written beside ``path`` and renamed onto it.
    """
    path = Path(path)
    channels, samples = audio.shape
    data = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    header = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + (8 + 16) + (8 + 4) + (8 + len(data))),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, 3, channels, rate, rate * channels * 4, channels * 4, 32),
            b"fact",
            struct.pack("<II", 4, samples),
            b"data",
            struct.pack("<I", len(data)),
        ]
    )
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(data)
    os.replace(tmp, path)


def generate_dataset(
    root: Union[str, Path],
    seed: int = 42,
    nb_train: int = 8,
    nb_valid: int = 2,
    nb_test: int = 2,
    duration: float = 20.0,
    rate: int = 44100,
) -> Path:
    """Write the demo dataset under ``root`` and return ``root`` as a Path.

    Training and validation tracks go to ``root/train``, test tracks to
    ``root/test``; ``root/valid_tracks.txt`` lists the validation track names.
    Existing files of the same names are overwritten.
    """
    counts = {"train": nb_train, "valid": nb_valid, "test": nb_test}
    for split, count in counts.items():
        if int(count) != count or count < 0:
            raise ValueError(f"nb_{split} must be a non-negative integer, got {count!r}")
    if not duration > 0 or not math.isfinite(duration):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if int(rate) != rate or rate < 8000:
        raise ValueError(f"rate must be an integer of at least 8000 Hz, got {rate!r}")
    if round(duration * rate) < 1:
        raise ValueError(f"duration {duration!r} s is shorter than one sample at {rate} Hz")

    root = Path(root)
    for split, count in counts.items():
        for index in range(int(count)):
            folder = track_folder(root, split, index)
            folder.mkdir(parents=True, exist_ok=True)
            audio = synthesize_track(track_rng(seed, split, index), duration, int(rate))
            for name, x in audio.items():
                write_wav(folder / f"{name}.wav", x, int(rate))
    root.mkdir(parents=True, exist_ok=True)
    names = [track_name("valid", i) for i in range(int(nb_valid))]
    (root / "valid_tracks.txt").write_text("".join(f"{name}\n" for name in names))
    return root


# ---------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m openunmix.demo",
        description="Write a small synthetic dataset in the MUSDB18 wav layout.",
    )
    p.add_argument("--root", required=True, help="output folder")
    p.add_argument("--seed", type=nonnegative_int, default=42, help="random seed (default: 42)")
    p.add_argument("--nb-train", type=nonnegative_int, default=8, help="training tracks (default: 8)")
    p.add_argument(
        "--nb-valid", type=nonnegative_int, default=2, help="validation tracks, stored in train/ (default: 2)"
    )
    p.add_argument("--nb-test", type=nonnegative_int, default=2, help="test tracks (default: 2)")
    p.add_argument("--duration", type=positive_float, default=20.0, help="seconds per track (default: 20)")
    p.add_argument("--rate", type=number(int, 8000), default=44100, help="sample rate in Hz (default: 44100)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if round(args.duration * args.rate) < 1:
        parser.error(f"argument --duration: {args.duration:g} s is shorter than one sample")
    try:
        root = generate_dataset(
            args.root,
            seed=args.seed,
            nb_train=args.nb_train,
            nb_valid=args.nb_valid,
            nb_test=args.nb_test,
            duration=args.duration,
            rate=args.rate,
        )
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = {"train": args.nb_train, "valid": args.nb_valid, "test": args.nb_test}
    n_tracks = sum(counts.values())
    size = sum(
        (track_folder(root, split, i) / f"{name}.wav").stat().st_size
        for split, count in counts.items()
        for i in range(count)
        for name in ("mixture",) + SOURCES
    )
    print(root)
    print(
        f"{n_tracks} tracks ({args.nb_train} train, {args.nb_valid} valid, {args.nb_test} test) "
        f"of {args.duration:g} s at {args.rate} Hz, {n_tracks * args.duration / 60:.1f} min of audio, "
        f"{size / 1e6:.1f} MB, seed {args.seed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

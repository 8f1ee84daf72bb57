"""The vocals of a demo track: a formant-shaped harmonic voice singing phrases with pauses.

:func:`render_vocals` returns ``(2, samples + tail)`` float64 audio, centred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from . import dsp
from .song import TAIL_S, Song
from .variety import VOICE_TYPES, VOWEL_SETS, Palette, pick

# vowel formants F1, F2, F3 in Hz (a, e, i, o, u), bandwidths and relative gains
_VOWELS = (
    (800.0, 1200.0, 2500.0),
    (480.0, 1900.0, 2600.0),
    (320.0, 2300.0, 3000.0),
    (520.0, 900.0, 2450.0),
    (350.0, 800.0, 2300.0),
)
# two more vowel sets of the wide variety: (ae, uh, er, ih, aw) and (i, ih, eh, a, oo, u)
_VOWELS_OPEN = (
    (660.0, 1700.0, 2400.0),
    (640.0, 1190.0, 2390.0),
    (490.0, 1350.0, 1690.0),
    (390.0, 1990.0, 2550.0),
    (570.0, 840.0, 2410.0),
)
_VOWELS_MIXED = (
    (280.0, 2250.0, 2900.0),
    (400.0, 1920.0, 2560.0),
    (550.0, 1770.0, 2490.0),
    (730.0, 1090.0, 2440.0),
    (440.0, 1020.0, 2240.0),
    (300.0, 870.0, 2240.0),
)
_VOWEL_SETS = (_VOWELS, _VOWELS_OPEN, _VOWELS_MIXED)
# wide variety voice types: (lowest, highest) melody centre as MIDI, formant scale range
_VOICE_TYPES = (
    ((43, 48), (0.84, 0.94)),  # bass
    ((48, 53), (0.88, 0.98)),  # baritone
    ((53, 59), (0.93, 1.03)),  # tenor
    ((58, 63), (1.0, 1.1)),  # alto
    ((62, 67), (1.04, 1.14)),  # mezzo-soprano
    ((66, 72), (1.1, 1.24)),  # soprano
)
_FORMANT_BW = (90.0, 110.0, 170.0)
_FORMANT_GAIN = (1.0, 0.55, 0.3)


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
    vowels: Tuple[Tuple[float, float, float], ...] = _VOWELS  # formants of the vowels sung
    bandwidth: float = 1.0  # scale of the formant bandwidths


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
                    vowel=int(rng.integers(len(voice.vowels))),
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
    midi = dsp.smooth(np.array([nt.midi for nt in notes])[idx], int(0.03 * rate))
    depth = dsp.smooth(voice.vib_depth * np.clip((since - 0.12) / 0.3, 0.0, 1.0), int(0.05 * rate))
    vib_rate = voice.vib_rate * (1.0 + 0.05 * rng.standard_normal())
    vibrato = depth * np.sin(2.0 * np.pi * vib_rate * t + rng.uniform(0, 2 * np.pi))
    knots = np.arange(0.0, end + 0.5, 0.25)
    drift = dsp.smooth(np.interp(t, knots, rng.normal(0.0, 0.08, knots.size)), int(0.1 * rate))
    f0 = dsp.midi_to_hz(midi + vibrato + drift)
    phase = 2.0 * np.pi * np.cumsum(f0) / rate

    # loudness: per-syllable level with a small dip at each new syllable, release at the end
    level = dsp.smooth(np.array([nt.vel for nt in notes])[idx], int(0.02 * rate))
    dip = np.where(idx > 0, 0.65 + 0.35 * np.clip(since / 0.05, 0.0, 1.0), 1.0)
    amp = level * dsp.smooth(dip, int(0.01 * rate)) * dsp.envelope(n, rate, 0.04, end, 0.035)

    # formant tracks (3, n) at a control rate, smoothed across syllables
    hop = 32
    vowels = np.array(voice.vowels)[[nt.vowel for nt in notes]] * voice.formant_scale  # (notes, 3)
    formants = dsp.smooth(vowels[idx[::hop]].T, max(2, int(0.06 * rate / hop)))
    f0c = f0[::hop]
    limit = min(6000.0, 0.45 * rate)
    n_harm = int(limit / f0.min())
    k = np.arange(1, n_harm + 1)[:, None]
    fk = k * f0c[None, :]  # (harmonics, frames)
    env = 0.02 + sum(
        g / (1.0 + ((fk - formants[i][None, :]) / (0.5 * bw * voice.bandwidth)) ** 2)
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
    x += voice.breath * dsp.band_noise(rng, n, rate, 1500.0, 9000.0) * np.clip(level, 0, 1)
    for nt, onset in zip(notes[1:], onsets[1:]):
        if rng.random() < 0.4:
            m = int(rng.uniform(0.02, 0.05) * rate)
            burst = dsp.band_noise(rng, m, rate, 3500.0, 10000.0) * np.hanning(m)
            dsp.add_at(x, int(onset * rate) - m // 2, 0.15 * nt.vel * burst)
    return x * amp


def _demo_voice(rng: np.random.Generator) -> _Voice:
    """A singer of the demo variety: one of two registers, the five vowels a, e, i, o, u."""
    high = rng.random() < 0.5
    return _Voice(
        centre=int(rng.integers(63, 69) if high else rng.integers(55, 61)),
        vib_rate=float(rng.uniform(5.0, 6.0)),
        vib_depth=float(rng.uniform(0.2, 0.45)),
        formant_scale=float(rng.uniform(1.05, 1.18) if high else rng.uniform(0.92, 1.05)),
        tilt=float(rng.uniform(0.9, 1.3)),
        breath=float(rng.uniform(0.006, 0.02)),
    )


def _wide_voice(rng: np.random.Generator, palette: Palette) -> _Voice:
    """A singer of the wide family: one of ``palette``'s voice types (of six, bass to soprano) and vowel
    sets (of three), vibrato 4-7.5 Hz and 0.05-0.9 semitones, from clear (0.005) to breathy (0.08)."""
    (low, high), (f_low, f_high) = _VOICE_TYPES[pick(rng, palette.voices, VOICE_TYPES)]
    return _Voice(
        centre=int(rng.integers(low, high + 1)),
        vib_rate=float(rng.uniform(4.0, 7.5)),
        vib_depth=float(rng.uniform(0.05, 0.9)),
        formant_scale=float(rng.uniform(f_low, f_high)),
        tilt=float(rng.uniform(0.7, 1.7)),
        breath=float(np.exp(rng.uniform(np.log(0.005), np.log(0.08)))),
        vowels=_VOWEL_SETS[pick(rng, palette.vowel_sets, VOWEL_SETS)],
        bandwidth=float(rng.uniform(0.7, 1.6)),
    )


def render_vocals(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Sung phrases with silent pauses between them, centred: ``(2, samples)``.

    The singer is drawn per track from the demo set or the song's palette (``song.variety``); a palette
    with a ``vocal_room`` puts the voice in a stereo hall drawn from its ranges.
    """
    rate = song.rate
    voice = _wide_voice(rng, song.palette) if song.wide_family else _demo_voice(rng)
    out = np.zeros(song.n_samples + int(TAIL_S * rate))
    for notes in _plan_melody(song, rng, voice):
        dsp.add_at(out, int(round(notes[0].start * rate)), _sing_phrase(notes, rng, rate, voice))
    stereo = np.stack([out, out])
    if song.wide_family and song.palette.vocal_room is not None:
        (rt_low, rt_high), (wet_low, wet_high) = song.palette.vocal_room
        stereo = dsp.room(stereo, rng, rate, rt60=float(rng.uniform(rt_low, rt_high)),
                          wet=float(rng.uniform(wet_low, wet_high)))
    return stereo

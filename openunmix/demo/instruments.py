"""The accompaniment of a demo track: drums, bass, and pads, keys or other chord instruments (``other``).

Each ``render_*`` function returns ``(2, samples + tail)`` float64 audio for a
:class:`~.song.Song`, drawn from the generator it is given.  ``song.variety``
selects the sounds: the demo set (one drum kit family, a plucked bass, pads or
keys) or the wide one (kits with wider tuning, decay and room; sine, saw or
plucked bass; pad, keys, pluck, organ or brass), rendered by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, List, Tuple

import numpy as np

from . import dsp
from .song import TAIL_S, Song
from .variety import BASS_TIMBRES, INSTRUMENTS, Palette, pick

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
    body[:m] += 0.3 * dsp.band_noise(rng, m, rate, 1500.0, 8000.0) * np.exp(-t[:m] / 0.0015)
    body *= np.minimum(t / 0.001, 1.0)
    return np.tanh(1.4 * body) / np.tanh(1.4)


def _snare(rng: np.random.Generator, rate: int, kit: _Kit) -> np.ndarray:
    """Band-passed noise burst plus a two-mode tonal body: ``(samples,)``."""
    t = np.arange(int(0.3 * rate)) / rate
    noise = dsp.band_noise(rng, t.size, rate, 900.0, 9000.0) * np.exp(-t / kit.snare_decay)
    w = 2.0 * np.pi * kit.snare_f * t
    body = (np.sin(w) + 0.5 * np.sin(1.48 * w)) * np.exp(-t / 0.045)
    x = 0.45 * noise + kit.snare_tone * body
    return x * np.minimum(t / 0.0008, 1.0)


def _hat(rng: np.random.Generator, rate: int, kit: _Kit, open_: bool) -> np.ndarray:
    """Short high-passed noise; ``open_`` rings longer: ``(samples,)``."""
    decay = kit.hat_decay * (6.0 if open_ else 1.0)
    t = np.arange(int(min(7.0 * decay, 0.5) * rate)) / rate
    x = dsp.band_noise(rng, t.size, rate, 7000.0, 16000.0) * np.exp(-t / decay)
    return 0.35 * x * np.minimum(t / 0.0005, 1.0)


# kit parameter ranges per variety, drawn uniformly in the order of _Kit's fields
_KIT_RANGES: Dict[str, Dict[str, Tuple[float, float]]] = {
    "demo": dict(
        kick_f0=(110.0, 170.0), kick_f1=(42.0, 58.0), kick_sweep=(0.02, 0.045), kick_decay=(0.12, 0.25),
        snare_f=(165.0, 240.0), snare_decay=(0.05, 0.1), snare_tone=(0.3, 0.7), hat_decay=(0.012, 0.025),
    ),
    "wide": dict(
        kick_f0=(80.0, 220.0), kick_f1=(36.0, 72.0), kick_sweep=(0.01, 0.08), kick_decay=(0.07, 0.5),
        snare_f=(130.0, 330.0), snare_decay=(0.03, 0.22), snare_tone=(0.1, 0.9), hat_decay=(0.006, 0.05),
    ),
}


def render_drums(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Kick on 1 and 3 (with variations), snare on 2 and 4, hats on eighths: ``(2, samples)``."""
    rate = song.rate
    ranges = _KIT_RANGES["wide" if song.wide_family else "demo"]
    kit = _Kit(**{f.name: rng.uniform(*ranges[f.name]) for f in fields(_Kit)})
    rt60, wet = 0.3, 0.15
    if song.wide_family:  # from a dry booth to a live hall
        rt60, wet = float(rng.uniform(0.12, 0.9)), float(rng.uniform(0.04, 0.3))
    kicks = _KICK_PATTERNS[int(rng.integers(len(_KICK_PATTERNS)))]
    kicks_alt = _KICK_PATTERNS[int(rng.integers(len(_KICK_PATTERNS)))]
    sixteenth_hats = bool(rng.random() < 0.3)
    hat_pan = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.45))
    snare_pan = float(rng.uniform(-0.12, 0.12))
    step = song.beat / 4.0

    out = np.zeros((2, song.n_samples + int(TAIL_S * rate)))
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
            dsp.add_at(out, int(round(time * rate)), dsp.pan(vel * x, pan))
    return dsp.room(out, rng, rate, rt60=rt60, wet=wet)


# ---------------------------------------------------------------------------
# bass


def _bass_midi(midi: int) -> int:
    """Fold a pitch into MIDI 28-45 (41-110 Hz)."""
    while midi > 45:
        midi -= 12
    while midi < 28:
        midi += 12
    return midi


def _bass_sound(rng: np.random.Generator, variety: str,
                palette: Palette = Palette()) -> Tuple[np.ndarray, float, float, float]:
    """``(tables, tone_decay, decay, gate)``: a dull and a bright wavetable ``(2, size + 1)``, how fast
    the bright attack fades to the dull tone, the note decay (s) and the fraction of its length a note is held.

    The demo bass is plucked; the wide family's is sine-ish, saw-ish or plucked (as ``palette`` allows),
    with wider ranges.
    """
    timbre = "pluck" if variety == "demo" else BASS_TIMBRES[pick(rng, palette.bass_timbres, BASS_TIMBRES)]
    if timbre == "sine":
        dull, bright = dsp.wavetable([1.0, 0.04]), dsp.wavetable([1.0, 0.15, 0.04])
        tone_decay, decay = rng.uniform(0.02, 0.06), rng.uniform(1.0, 4.0)
    elif timbre == "saw":
        k = np.arange(1, 17)
        dull = dsp.wavetable(k**-1.0 * np.exp(-k / rng.uniform(3.0, 7.0)))
        bright = dsp.wavetable(k ** -rng.uniform(0.9, 1.2))
        tone_decay, decay = rng.uniform(0.08, 0.4), rng.uniform(0.8, 3.0)
    else:  # pluck: (slope of the bright harmonics, tone decay, decay) ranges per variety
        slope, tone, fall = ((1.4, 1.9), (0.05, 0.12), (0.6, 1.5)) if variety == "demo" else (
            (1.2, 2.0), (0.03, 0.15), (0.3, 1.5))
        k = np.arange(1, 9)
        dull, bright = dsp.wavetable([1.0, 0.22, 0.05]), dsp.wavetable(k ** -rng.uniform(*slope))
        tone_decay, decay = rng.uniform(*tone), rng.uniform(*fall)
    gate = rng.uniform(*((0.8, 0.95) if variety == "demo" else (0.5, 0.98)))
    return np.stack([dull, bright]), tone_decay, decay, gate


def render_bass(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Harmonic bass on the chord roots, one rhythm per track: ``(2, samples)``."""
    rate = song.rate
    rhythm = _BASS_RHYTHMS[int(rng.integers(len(_BASS_RHYTHMS)))]
    tables, tone_decay, decay, gate = _bass_sound(rng, song.variety, song.palette)
    eighth = song.beat / 2.0

    out = np.zeros(song.n_samples + int(TAIL_S * rate))
    for bar in range(song.n_bars):
        root = _bass_midi(28 + (song.chord(bar)[0] - 28) % 12)
        for j, (start, length) in enumerate(rhythm):
            midi = root
            if j == len(rhythm) - 1 and len(rhythm) > 1 and rng.random() < 0.35:
                midi = _bass_midi(root + int(rng.choice([7, 12])))  # fifth or octave
            hold = length * eighth * gate
            n = int((hold + 0.06) * rate)
            freq = float(dsp.midi_to_hz(midi))
            t = np.arange(n) / rate
            dull, bright = dsp.osc(tables, freq, n, rate, rng.random())
            x = dull + (bright - dull) * np.exp(-t / tone_decay)
            vel = (1.0 if start % 2 == 0 else 0.8) * rng.uniform(0.85, 1.0)
            x *= vel * dsp.envelope(n, rate, attack=0.004, hold=hold, release=0.015, decay=decay)
            dsp.add_at(out, int(round((bar * song.bar + start * eighth) * rate)), x)
    return np.stack([out, out])


# ---------------------------------------------------------------------------
# other: pads, keys, plucks, organs, brass


@dataclass(frozen=True)
class _Patch:
    """A chord instrument, fixed for a track (times in s).

    ``tables`` is one wavetable ``(size + 1,)`` or two ``(2, size + 1)``; with two
    each note crossfades from the second to the first with time constant
    ``tone_decay`` (bright to dull for keys and plucks, dull to bright for brass).
    """

    tables: np.ndarray
    rhythm: Tuple[Tuple[int, int], ...]  # (start, length) in eighth notes of a bar
    attack: float
    release: float
    decay: float
    gate: float  # fraction of a rhythm step a note is held
    accent: bool  # off-beat notes at 0.8 of the velocity
    tone_decay: float
    cents: float  # detune of the two oscillators of each tone
    spread: float
    centre: float
    low: int  # voicings sit in [low, low + 12)
    rt60: float
    wet: float


def _demo_patch(rng: np.random.Generator) -> _Patch:
    """Pads or keys of the demo variety."""
    pad = bool(rng.random() < 0.5)
    k = np.arange(1, 11)
    if pad:
        tables = dsp.wavetable(k ** -1.3 * np.exp(-k / rng.uniform(3.0, 6.0)))
        rhythm: Tuple[Tuple[int, int], ...] = ((0, 8),)
    else:
        tables = np.stack([dsp.wavetable([1.0, 0.3, 0.08]), dsp.wavetable(k ** -rng.uniform(1.0, 1.5))])
        rhythm = _KEYS_RHYTHMS[int(rng.integers(len(_KEYS_RHYTHMS)))]
    attack = rng.uniform(0.15, 0.4) if pad else 0.003
    release = rng.uniform(0.15, 0.25) if pad else 0.04
    decay = np.inf if pad else rng.uniform(0.4, 0.9)
    return _Patch(
        tables=tables, rhythm=rhythm, attack=attack, release=release, decay=decay,
        gate=1.0 if pad else 0.9, accent=not pad,
        tone_decay=rng.uniform(0.1, 0.3), cents=rng.uniform(4.0, 10.0), spread=rng.uniform(0.2, 0.5),
        centre=rng.uniform(-0.25, 0.25), low=int(rng.integers(52, 57)),
        rt60=0.5 if pad else 0.35, wet=0.2,
    )


def _wide_patch(rng: np.random.Generator, palette: Palette) -> _Patch:
    """One of the wide family's chord instruments allowed by ``palette``: pad, keys, pluck, organ or brass."""
    kind = INSTRUMENTS[pick(rng, palette.instruments, INSTRUMENTS)]
    k = np.arange(1, 17)
    sustained = (((0, 8),),) + _KEYS_RHYTHMS[-1:]  # whole bars, half bars
    rhythms = sustained if kind == "pad" else _KEYS_RHYTHMS + sustained
    rhythm = rhythms[int(rng.integers(len(rhythms)))]
    if kind == "pad":  # soft detuned saw, slow attack
        tables = dsp.wavetable(k ** -1.3 * np.exp(-k / rng.uniform(2.0, 8.0)))
        attack, release, decay, gate = rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.4), np.inf, 1.0
    elif kind == "keys":  # bright attack fading to a dull tone
        tables = np.stack([dsp.wavetable([1.0, 0.3, 0.08]), dsp.wavetable(k[:10] ** -rng.uniform(0.8, 1.6))])
        attack, release, decay, gate = 0.003, rng.uniform(0.03, 0.08), rng.uniform(0.3, 1.2), 0.9
    elif kind == "pluck":  # very bright, fast-fading, short notes
        tables = np.stack([dsp.wavetable([1.0, 0.15]), dsp.wavetable(k ** -rng.uniform(0.7, 1.1))])
        attack, release, decay, gate = 0.002, 0.05, rng.uniform(0.12, 0.5), 0.9
    elif kind == "organ":  # drawbars: a few harmonics at random levels, no decay
        tables = dsp.wavetable(rng.uniform(0.2, 1.0, 8) * np.array([1, 1, 1, 1, 0, 1, 0, 1]))
        attack, release, decay, gate = 0.01, rng.uniform(0.03, 0.08), np.inf, 0.95
    else:  # brass: dull onset swelling to a bright saw
        tables = np.stack([dsp.wavetable(k ** -rng.uniform(0.9, 1.2)), dsp.wavetable([1.0, 0.4, 0.15])])
        attack, release, decay, gate = rng.uniform(0.03, 0.08), rng.uniform(0.08, 0.15), rng.uniform(1.5, 4.0), 0.85
    long_tail = kind in ("pad", "organ")
    return _Patch(
        tables=tables, rhythm=rhythm, attack=attack, release=release, decay=decay, gate=gate,
        accent=kind != "pad", tone_decay=rng.uniform(0.02, 0.1) if kind == "pluck" else rng.uniform(0.05, 0.3),
        cents=rng.uniform(0.5, 3.0) if kind == "organ" else rng.uniform(3.0, 14.0),
        spread=rng.uniform(0.0, 0.7), centre=rng.uniform(-0.4, 0.4), low=int(rng.integers(45, 63)),
        rt60=rng.uniform(0.4, 0.9) if long_tail else rng.uniform(0.2, 0.6), wet=rng.uniform(0.08, 0.3),
    )


def render_other(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Chords on a pad, keys or (wide variety) another instrument, spread in stereo: ``(2, samples)``."""
    rate = song.rate
    patch = _wide_patch(rng, song.palette) if song.wide_family else _demo_patch(rng)
    low = patch.low
    eighth = song.beat / 2.0

    out = np.zeros((2, song.n_samples + int(TAIL_S * rate)))
    for bar in range(song.n_bars):
        tones = [low + (pc - low) % 12 for pc in song.chord(bar)]
        for start, length in patch.rhythm:
            hold = length * eighth * patch.gate
            n = int((hold + 5.0 * patch.release) * rate)
            env = dsp.envelope(n, rate, patch.attack, hold, patch.release, patch.decay)
            brightness = np.exp(-np.arange(n) / (patch.tone_decay * rate))
            vel = rng.uniform(0.85, 1.0) * (1.0 if not patch.accent or start % 2 == 0 else 0.8)
            # all oscillators of the chord at once: each tone twice, detuned down and up
            detune = np.tile([-1.0, 1.0], len(tones))
            spots = np.repeat(0.5 + 0.5 * np.arange(len(tones)) / max(len(tones) - 1, 1), 2)
            freqs = dsp.midi_to_hz(np.repeat(tones, 2) + detune * patch.cents / 100.0)
            x = dsp.osc(patch.tables, freqs, n, rate, rng.random(freqs.size))  # ([2,] oscillators, n)
            if patch.tables.ndim == 2:  # crossfade from the second table to the first
                x = x[0] + (x[1] - x[0]) * brightness
            stereo = dsp.pan_gains(patch.centre + patch.spread * detune * spots) @ x  # (2, n)
            onset = int(round((bar * song.bar + start * eighth) * rate))
            dsp.add_at(out, onset, stereo * (vel * env))
    return dsp.room(out, rng, rate, rt60=patch.rt60, wet=patch.wet)

"""The musical frame of a demo track: tempo, key, mode and a four-chord progression.

The ranges they are drawn from depend on the variety and split (:mod:`.variety`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .variety import Palette, Ranges, track_ranges

# scale degrees as semitones above the tonic
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# four-chord progressions as 0-based scale degrees
_PROGRESSIONS_MAJOR = (
    (0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (1, 4, 0, 5), (0, 3, 5, 4)
)
_PROGRESSIONS_MINOR = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2))

TAIL_S = 2.0  # room left after the last sample for note releases


@dataclass(frozen=True)
class Song:
    """Musical frame shared by all stems of one track."""

    rate: int
    n_samples: int
    bpm: float
    tonic: int  # pitch class of the key, 0 = C
    scale: Tuple[int, ...]  # semitones above the tonic
    chords: Tuple[Tuple[int, ...], ...]  # pitch classes, root first; one chord per bar
    variety: str = "demo"  # which timbres the renderers draw from (see :mod:`.variety`)
    palette: Palette = Palette()  # the sounds of the wide family's varieties (the demo variety ignores it)

    @property
    def wide_family(self) -> bool:
        """Rendered with the wide variety's sounds (``'wide'`` and ``'kinds'``), drawn from ``palette``."""
        return self.variety != "demo"

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


def plan_song(rng: np.random.Generator, duration: float, rate: int, ranges: Optional[Ranges] = None) -> Song:
    """Draw tempo, key, mode and a four-chord progression within ``ranges``.

    ``ranges`` defaults to the demo variety's: 90-130 bpm, any tonic, minor with
    probability 0.4.
    """
    ranges = track_ranges() if ranges is None else ranges
    minor = bool(rng.random() < ranges.minor_probability)
    scale = _MINOR if minor else _MAJOR
    progressions = _PROGRESSIONS_MINOR if minor else _PROGRESSIONS_MAJOR
    # with all 12 tonics this is the draw ``rng.integers(12)``, value for value
    tonic = int(ranges.tonics[int(rng.integers(len(ranges.tonics)))])
    degrees = progressions[int(rng.integers(len(progressions)))]
    n_tones = 4 if rng.random() < 0.3 else 3  # triads or seventh chords
    chords = tuple(
        tuple((tonic + scale[(d + 2 * j) % 7]) % 12 for j in range(n_tones)) for d in degrees
    )
    return Song(
        rate=rate,
        n_samples=int(round(duration * rate)),
        bpm=float(rng.integers(ranges.bpm[0], ranges.bpm[1] + 1)),
        tonic=tonic,
        scale=scale,
        chords=chords,
        variety=ranges.variety,
        palette=ranges.palette,
    )

"""How varied the demo tracks are: the ranges a track's tempo, key and levels are drawn from.

Two settings, chosen with ``variety=`` (``--variety`` on the command line):

``"demo"`` (the default)
    The tracks of ``make demo``, bit-identical to those written before this
    setting existed: 90-130 bpm, minor with probability 0.4, any of the 12
    tonics; drums -1..+1 dB, bass -3.5..-0.5 dB, other -5..-1 dB (each against
    unit energy), vocals -2..+1 dB against the accompaniment.  One singer type
    (two registers), pads or keys, one drum kit family, one bass timbre.  The
    same ranges serve every split.

``"wide"``
    A harder, more varied set for comparing training recipes on held-out music:
    70-170 bpm, major or minor with equal probability; six voice types from bass
    to soprano with three vowel sets, wider vibrato (4-7.5 Hz, 0.05-0.9
    semitones) and breathiness; five ``other`` instruments (pad, keys, pluck,
    organ, brass); drum kits with wider tuning, decay and room; three bass
    timbres (sine, saw, pluck); drums -4..+2 dB, bass -7..0 dB, other -8..0 dB.

    The test split is held-out music, not new draws of the same distribution:

    * tonics: train and valid tracks are in keys on the even pitch classes
      (C, D, E, F#, G#, A#), test tracks on the odd ones (C#, D#, F, G, A, B);
      no test track shares its key with any train or valid track;
    * vocal level against the accompaniment: train and valid draw it uniformly
      from -6..+3 dB, test from -9..0 dB (3 dB lower; the ranges overlap on
      -6..0 dB, and test has the quiet vocals, -9..-6 dB, that training never sees).

    Everything else (tempo, mode, timbres, accompaniment levels) comes from the
    same ranges in every split.

``"kinds"``
    A set for measuring how training generalizes to music of another kind: the
    test split is rendered from timbres, tempi and a vocal production that train
    and valid tracks never have (the wide variety's sounds, split in two
    :class:`Palette` s):

    * train and valid: 80-125 bpm; baritone, tenor and alto singers with the
      five vowels a, e, i, o, u, sung dry; pads and keys; a plucked bass;
    * test: 126-170 bpm; bass, mezzo-soprano and soprano singers with the two
      other vowel sets, their stem carrying a stereo hall (rt60 0.6-1.4 s, wet
      0.15-0.35); plucks, organs and brass; sine and saw basses.

    Keys, modes, drum kits and levels come from the wide variety's training
    ranges in every split, so what differs is the kind of music, not its
    balance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple

import numpy as np

VARIETIES: Tuple[str, ...] = ("demo", "wide", "kinds")

VOICE_TYPES: Tuple[str, ...] = ("bass", "baritone", "tenor", "alto", "mezzo-soprano", "soprano")
VOWEL_SETS: Tuple[str, ...] = ("aeiou", "open", "mixed")
INSTRUMENTS: Tuple[str, ...] = ("pad", "keys", "pluck", "organ", "brass")
BASS_TIMBRES: Tuple[str, ...] = ("sine", "saw", "pluck")


@dataclass(frozen=True)
class Palette:
    """The sounds a track of the wide family draws from (names of :data:`VOICE_TYPES`, :data:`VOWEL_SETS`,
    :data:`INSTRUMENTS`, :data:`BASS_TIMBRES`), each uniformly; ``vocal_room``: ``((rt60 low, high),
    (wet low, high))`` of a stereo hall on the vocals stem, or None for dry vocals."""

    voices: Tuple[str, ...] = VOICE_TYPES
    vowel_sets: Tuple[str, ...] = VOWEL_SETS
    instruments: Tuple[str, ...] = INSTRUMENTS
    bass_timbres: Tuple[str, ...] = BASS_TIMBRES
    vocal_room: Optional[Tuple[Tuple[float, float], Tuple[float, float]]] = None


@dataclass(frozen=True)
class Ranges:
    """Track-level ranges of one variety and split (levels in dB, ``(low, high)`` uniform)."""

    variety: str
    bpm: Tuple[int, int]  # inclusive
    minor_probability: float
    tonics: Tuple[int, ...]  # pitch classes a key is drawn from, uniformly
    drums_db: Tuple[float, float]  # against unit energy
    bass_db: Tuple[float, float]
    other_db: Tuple[float, float]
    vocals_db: Tuple[float, float]  # against the accompaniment's energy
    peak: Tuple[float, float] = (0.6, 0.85)  # mixture (and stem) peak
    palette: Palette = Palette()  # the sounds (the wide family; the demo variety has its own)


_DEMO = Ranges(
    variety="demo",
    bpm=(90, 130),
    minor_probability=0.4,
    tonics=tuple(range(12)),
    drums_db=(-1.0, 1.0),
    bass_db=(-3.5, -0.5),
    other_db=(-5.0, -1.0),
    vocals_db=(-2.0, 1.0),
)
_WIDE_TRAIN = Ranges(
    variety="wide",
    bpm=(70, 170),
    minor_probability=0.5,
    tonics=(0, 2, 4, 6, 8, 10),
    drums_db=(-4.0, 2.0),
    bass_db=(-7.0, 0.0),
    other_db=(-8.0, 0.0),
    vocals_db=(-6.0, 3.0),
)
_WIDE_TEST = Ranges(
    variety="wide",
    bpm=_WIDE_TRAIN.bpm,
    minor_probability=_WIDE_TRAIN.minor_probability,
    tonics=(1, 3, 5, 7, 9, 11),
    drums_db=_WIDE_TRAIN.drums_db,
    bass_db=_WIDE_TRAIN.bass_db,
    other_db=_WIDE_TRAIN.other_db,
    vocals_db=(-9.0, 0.0),
)


_KINDS_TRAIN = Ranges(
    variety="kinds",
    bpm=(80, 125),
    minor_probability=0.5,
    tonics=tuple(range(12)),
    drums_db=_WIDE_TRAIN.drums_db,
    bass_db=_WIDE_TRAIN.bass_db,
    other_db=_WIDE_TRAIN.other_db,
    vocals_db=_WIDE_TRAIN.vocals_db,
    palette=Palette(voices=("baritone", "tenor", "alto"), vowel_sets=("aeiou",), instruments=("pad", "keys"),
                    bass_timbres=("pluck",)),
)
_KINDS_TEST = replace(
    _KINDS_TRAIN,
    bpm=(126, 170),
    palette=Palette(voices=("bass", "mezzo-soprano", "soprano"), vowel_sets=("open", "mixed"),
                    instruments=("pluck", "organ", "brass"), bass_timbres=("sine", "saw"),
                    vocal_room=((0.6, 1.4), (0.15, 0.35))),
)


def pick(rng: np.random.Generator, names: Tuple[str, ...], known: Tuple[str, ...]) -> int:
    """The index in ``known`` of a name drawn uniformly from ``names``: with every known name in order,
    the draw ``rng.integers(len(known))``, value for value (so the wide variety's tracks are unchanged)."""
    return known.index(names[int(rng.integers(len(names)))])


def check_variety(variety: str) -> str:
    """``variety`` if it is one of :data:`VARIETIES`, else ``ValueError``."""
    if variety not in VARIETIES:
        raise ValueError(f"variety must be one of {VARIETIES}, got {variety!r}")
    return variety


def track_ranges(variety: str = "demo", split: str = "train") -> Ranges:
    """The ranges of a track of ``split`` (``'train'``, ``'valid'`` or ``'test'``) in ``variety``."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be one of ('train', 'valid', 'test'), got {split!r}")
    if check_variety(variety) == "demo":
        return _DEMO
    if variety == "kinds":
        return _KINDS_TEST if split == "test" else _KINDS_TRAIN
    return _WIDE_TEST if split == "test" else _WIDE_TRAIN

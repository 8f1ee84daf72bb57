"""What every dataset layout shares: excerpt reading and the base dataset classes.

Every dataset item is a pair ``(mixture, target)`` of float32 tensors shaped
``(nb_channels, samples)`` at the dataset's ``sample_rate`` (a joint-target
MUSDB dataset stacks its targets: ``(targets, nb_channels, samples)``).

Training and validation. A dataset is in *training mode* when
``split == 'train'`` and ``seq_duration`` is set: it then has
``nb_tracks * samples_per_track`` items, each a random excerpt of
``seq_duration`` seconds with random per-source augmentations. Otherwise an
item is a whole track, read deterministically without augmentation, and there
is one item per track (the unaligned layout, which has no tracks, uses fixed
excerpts instead, see :class:`~openunmix.data.UnalignedDataset`).

Randomness. No global random state is used: item ``index`` draws everything
from ``np.random.default_rng([seed, epoch, index])`` (``epoch`` is set with
``set_epoch`` and is 0 outside training mode), so an item does not depend on
the DataLoader's worker count or order. With ``persistent_workers=True`` the
workers keep the epoch they were started with; call ``set_epoch`` before each
epoch's iterator is created and do not keep workers alive across epochs.

Audio. Only the excerpt is read from each file (``audio.load`` seeks). Files
at another sample rate are read over the matching span in their own rate,
resampled, then trimmed or zero-padded to the exact length; channels are
adapted with ``audio.fit_channels`` (mono is duplicated for stereo models).
Files shorter than the excerpt are zero-padded with a :class:`ShortFileWarning`
(once per file, when the dataset is built), or dropped when
``short_tracks='skip'``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import audio
from ..audio import AudioError, PathLike
from .augment import (
    GAIN_RANGE, AugmentationSpec, _checked, apply_augmentations, build_augmentations, check_gain_range,
    check_probability, check_semitones, draw_speed, repitch, repitch_span,
)
from .errors import DatasetError, ShortFileWarning
from .registry import DatasetOption

__all__ = [
    "AudioFile",
    "VALID_TRACKS_FILE",
    "probe_file",
    "read_excerpt",
    "fix_length",
    "sum_sources",
    "excerpt_start",
    "read_valid_tracks",
    "short_policy",
    "track_folders",
    "missing_folder",
    "listing",
    "to_tensors",
    "BaseDataset",
    "Track",
    "TrackDataset",
    "RANDOM_TRACK_MIX",
    "RANDOM_CHUNKS",
    "SOURCE_AUGMENTATIONS",
    "SHORT_TRACKS",
    "EXT",
    "TARGET_FILE",
]

# Options several layouts take, declared once (each layout names those its builder takes; see
# :func:`~openunmix.data.registry.register_layout`). train.py's help puts the layouts in front.
RANDOM_TRACK_MIX = DatasetOption("random_track_mix", "mix sources from random tracks (default: the recipe's)",
                                 flag="--random-track-mix", kind=bool)
RANDOM_CHUNKS = DatasetOption("random_chunks", kind=bool)  # training excerpts at random offsets (no flag)
SOURCE_AUGMENTATIONS = DatasetOption("source_augmentations", "per-source augmentations (default: gain channelswap)",
                                     flag="--source-augmentations", nargs="*", metavar="AUG")
SHORT_TRACKS = DatasetOption("short_tracks", "tracks shorter than an excerpt: zero-pad (default) or skip",
                             flag="--short-tracks", choices=("pad", "skip"))
EXT = DatasetOption("ext", "audio file extension", flag="--ext")
TARGET_FILE = DatasetOption("target_file", "target file name", flag="--target-file")

#: File in a dataset root listing its validation tracks, one name per line.
VALID_TRACKS_FILE = "valid_tracks.txt"

T = TypeVar("T")

# Context (in samples at the lower of the two rates) read on each side of an
# excerpt that is resampled; the soxr HQ filter needs less than half of it.
_RESAMPLE_MARGIN = 256

# At most this many names are listed in an error message.
_MAX_LISTED = 12


# ---------------------------------------------------------------------------
# Files and excerpts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFile:
    """An indexed audio file: path and header information, no samples."""

    path: Path
    rate: float
    samples: int
    channels: int

    def length(self, sample_rate: float) -> int:
        """Number of samples of the file once resampled to ``sample_rate``."""
        if self.rate == sample_rate:
            return self.samples
        return int(self.samples * sample_rate // self.rate)


def listing(names: Sequence[str]) -> str:
    """``names`` joined by commas, the first ``_MAX_LISTED`` of them."""
    names = list(names)
    more = len(names) - _MAX_LISTED
    shown = ", ".join(names[:_MAX_LISTED])
    return f"{shown}, and {more} more" if more > 0 else shown


def _folder_contents(folder: Path, dirs: bool) -> List[str]:
    """Sorted, non-hidden names of ``folder``'s sub-folders (``dirs``) or files."""
    try:
        return sorted(
            p.name for p in folder.iterdir()
            if not p.name.startswith(".") and (p.is_dir() if dirs else p.is_file())
        )
    except OSError:
        return []


def missing_folder(folder: Path, role: str = "") -> DatasetError:
    """The error for a folder that does not exist, listing its siblings when there are any.

    ``role`` (e.g. ``"target"``) says what the folder was expected to hold.
    """
    kind = f"no such folder for the {role}" if role else "no such folder"
    parent = folder.parent
    siblings = _folder_contents(parent, dirs=True) if parent.is_dir() else []
    if siblings:
        return DatasetError(f"{folder}: {kind}; {parent} holds {listing(siblings)}")
    return DatasetError(f"{folder}: {kind}")


def probe_file(path: PathLike, nb_channels: int, what: str = "audio") -> AudioFile:
    """Index ``path`` (header only) and check it can feed an ``nb_channels`` model.

    Raises:
        DatasetError: missing file (the message says it is a missing ``what``
            file and lists the files its folder holds), unreadable audio, or
            an unusable channel count.
    """
    path = Path(path)
    if not path.is_file():
        present = _folder_contents(path.parent, dirs=False) if path.parent.is_dir() else []
        holds = f"; {path.parent.name} holds {listing(present)}" if present else ""
        raise DatasetError(f"{path}: missing {what} file{holds}")
    try:
        rate, samples, channels = audio.info(path)
        audio.fit_channels(np.zeros((channels, 0), np.float32), nb_channels, str(path))
    except AudioError as err:
        raise DatasetError(str(err)) from None
    return AudioFile(path, rate, samples, channels)


def fix_length(x: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad ``(channels, samples)`` audio at the end to ``frames`` samples."""
    n = x.shape[-1]
    if n == frames:
        return x
    if n > frames:
        return x[..., :frames]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, frames - n)])


def sum_sources(sources: Sequence[np.ndarray]) -> np.ndarray:
    """Sum ``(channels, samples)`` arrays, zero-padding shorter ones at the end."""
    if not sources:
        raise ValueError("sum_sources needs at least one source")
    n = max(s.shape[-1] for s in sources)
    out = np.zeros(sources[0].shape[:-1] + (n,), dtype=np.float32)
    for s in sources:
        out[..., : s.shape[-1]] += s
    return out


def read_excerpt(
    file: AudioFile,
    start: int,
    frames: Optional[int],
    sample_rate: float,
    nb_channels: int,
) -> np.ndarray:
    """Read an excerpt of ``file`` as the model sees it.

    ``start`` and ``frames`` count samples at ``sample_rate`` (``frames=None``:
    up to the end of the file). Only the matching span is read, in the file's
    own rate (with a little context on each side, so that the excerpt equals
    the same span of the whole resampled file), resampled to ``sample_rate``,
    fitted to ``nb_channels`` and (when ``frames`` is given) trimmed or
    zero-padded to exactly ``frames``.

    Returns:
        float32 array of shape ``(nb_channels, frames)``.
    """
    if file.rate == sample_rate:
        x, _ = audio.load(file.path, start, -1 if frames is None else frames)
    else:
        # Read a margin of context on both sides so that the resampling filter
        # sees real signal, not the cut, then keep the span that was asked for.
        ratio = file.rate / sample_rate
        position = start * ratio  # excerpt start in the file's samples
        margin = int(math.ceil(_RESAMPLE_MARGIN * max(1.0, ratio)))
        read_start = max(0, int(math.floor(position)) - margin)
        # Start on a sample that is also on the output grid, when that grid is
        # not too coarse, so that the excerpt equals the same span of the
        # whole resampled file (no fractional-sample shift).
        period = _grid_period(file.rate, sample_rate)
        if period is not None:
            read_start -= read_start % period
        if frames is None:
            read_frames = -1
        else:
            read_frames = int(math.ceil(position + frames * ratio)) + margin - read_start
        x, rate = audio.load(file.path, read_start, read_frames)
        x = audio.resample(x, rate, sample_rate)
        x = x[:, int(round((position - read_start) / ratio)) :]
    x = audio.fit_channels(x, nb_channels, str(file.path))
    if frames is not None:
        x = fix_length(x, frames)
    return np.ascontiguousarray(x, dtype=np.float32)


def _grid_period(file_rate: float, sample_rate: float) -> Optional[int]:
    """Smallest number of file samples spanning a whole number of output samples.

    ``None`` when the rates are not integers or the period is too long to be
    worth aligning to.
    """
    a, b = int(round(file_rate)), int(round(sample_rate))
    if a != file_rate or b != sample_rate:
        return None
    period = a // math.gcd(a, b)
    return period if period <= 8 * _RESAMPLE_MARGIN else None


def excerpt_start(
    rng: np.random.Generator,
    length: int,
    frames: int,
    random_chunks: bool = True,
    chunk: int = 0,
) -> int:
    """Start (in samples) of a ``frames`` long excerpt of a ``length`` long file.

    Random and uniform with ``random_chunks``; otherwise the ``chunk``-th of the
    consecutive non-overlapping excerpts (wrapping around). 0 when the file is
    not longer than the excerpt.
    """
    if length <= frames:
        return 0
    if random_chunks:
        return int(rng.integers(0, length - frames + 1))
    return (chunk % (length // frames)) * frames


def read_valid_tracks(root: PathLike) -> Optional[List[str]]:
    """Track names listed in ``root/valid_tracks.txt`` (one per line), or ``None``.

    Blank lines are ignored and names are stripped of surrounding whitespace.
    """
    path = Path(root) / VALID_TRACKS_FILE
    if not path.is_file():
        return None
    names = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [n for n in names if n]


def short_policy(
    units: Sequence[T],
    files_of: Callable[[T], Sequence[AudioFile]],
    name_of: Callable[[T], str],
    frames: Optional[int],
    sample_rate: float,
    policy: str,
    where: PathLike,
) -> List[T]:
    """Apply the ``short_tracks`` policy to tracks (or files) before training.

    ``'pad'`` keeps every unit and warns once for each file shorter than
    ``frames``; ``'skip'`` drops units holding such a file, with one warning.
    """
    if frames is None:
        return list(units)
    kept: List[T] = []
    dropped: List[str] = []
    seconds = frames / sample_rate
    for unit in units:
        short = [f for f in files_of(unit) if f.length(sample_rate) < frames]
        if not short:
            kept.append(unit)
        elif policy == "skip":
            dropped.append(name_of(unit))
        else:
            kept.append(unit)
            for f in short:
                warnings.warn(
                    f"{f.path}: {f.samples / f.rate:.2f} s, shorter than the "
                    f"{seconds:.2f} s excerpt; zero-padded",
                    ShortFileWarning,
                    stacklevel=4,
                )
    if dropped:
        warnings.warn(
            f"{where}: skipping {len(dropped)} item(s) shorter than the "
            f"{seconds:.2f} s excerpt: {', '.join(dropped)}",
            ShortFileWarning,
            stacklevel=4,
        )
    if not kept:
        raise DatasetError(
            f"{where}: no track left, all are shorter than the {seconds:.2f} s excerpt"
        )
    return kept


def track_folders(folder: Path) -> List[Path]:
    """Sorted, non-hidden sub-folders of ``folder`` (one per track)."""
    if not folder.is_dir():
        raise missing_folder(folder)
    tracks = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not tracks:
        raise DatasetError(f"{folder}: no track folders")
    return tracks


def to_tensors(mixture: np.ndarray, target: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``(mixture, target)`` item as contiguous float32 tensors, shapes unchanged.

    ``mixture`` is ``(channels, samples)``; ``target`` is ``(channels, samples)``
    or, for joint targets, ``(targets, channels, samples)``.
    """
    return (
        torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)),
    )


# ---------------------------------------------------------------------------
# Base classes
# ---------------------------------------------------------------------------


class BaseDataset(Dataset):
    """Settings, epoch and per-item random generators shared by all datasets."""

    repitch_prob: float = 0.0  # see _read_source
    max_semitones: float = 2.0

    def __init__(
        self,
        split: str,
        seq_duration: Optional[float],
        samples_per_track: int,
        sample_rate: float,
        nb_channels: int,
        seed: int,
        short_tracks: str,
    ) -> None:
        if seq_duration is not None and seq_duration <= 0:
            raise ValueError(f"seq_duration must be positive or None, got {seq_duration}")
        if samples_per_track < 1:
            raise ValueError(f"samples_per_track must be >= 1, got {samples_per_track}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if nb_channels < 1:
            raise ValueError(f"nb_channels must be >= 1, got {nb_channels}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if short_tracks not in ("pad", "skip"):
            raise ValueError(f"short_tracks must be 'pad' or 'skip', got {short_tracks!r}")
        self.split = split
        self.seq_duration = None if seq_duration is None else float(seq_duration)
        self.samples_per_track = int(samples_per_track)
        self.sample_rate = float(sample_rate)
        self.nb_channels = int(nb_channels)
        self.seed = int(seed)
        self.short_tracks = short_tracks
        self.epoch = 0

    @property
    def train_mode(self) -> bool:
        """Random excerpts and augmentations (``split == 'train'`` and ``seq_duration`` set)."""
        return self.split == "train" and self.seq_duration is not None

    @property
    def excerpt_frames(self) -> Optional[int]:
        """Excerpt length in samples at ``sample_rate``; ``None`` for whole files."""
        if self.seq_duration is None:
            return None
        return int(round(self.seq_duration * self.sample_rate))

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random excerpts and augmentations items draw."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def item_rng(self, index: int) -> np.random.Generator:
        """The random generator of item ``index`` (seeded by seed, epoch, index)."""
        epoch = self.epoch if self.train_mode else 0
        return np.random.default_rng([self.seed, epoch, index])

    def _check_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return index

    def _read(self, file: AudioFile, start: int, frames: Optional[int]) -> np.ndarray:
        return read_excerpt(file, start, frames, self.sample_rate, self.nb_channels)

    def _init_repitch(self, repitch_prob: float, max_semitones: float) -> None:
        self.repitch_prob = _checked("repitch_prob", check_probability, repitch_prob)
        self.max_semitones = _checked("max_semitones", check_semitones, max_semitones)

    def _read_source(self, file: AudioFile, start: int, frames: int, rng: np.random.Generator) -> np.ndarray:
        """A training excerpt ``(nb_channels, frames)`` of one source, repitched with probability
        ``repitch_prob``: ``round(frames * r)`` samples from ``start`` (moved back so that they fit in the
        file; zero-padded when the file is too short) resampled to ``frames``."""
        speed = draw_speed(rng, self.repitch_prob, self.max_semitones)
        if speed is None:
            return self._read(file, start, frames)
        n = repitch_span(frames, speed)
        start = max(0, min(start, file.length(self.sample_rate) - n))
        return repitch(self._read(file, start, n), frames)

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def stats_sources(self) -> List[List[Path]]:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass
class Track:
    """A track: its name and its files by role (role -> file, in mixing order)."""

    name: str
    files: Dict[str, AudioFile]

    def length(self, sample_rate: float) -> int:
        return min(f.length(sample_rate) for f in self.files.values())


class TrackDataset(BaseDataset):
    """Datasets made of tracks whose files are mixed into ``(mixture, target)``.

    Subclasses fill ``self.tracks`` and set ``_target_roles`` (roles summed into
    the target; a missing one is silence) and ``_mixture_roles`` (roles summed
    into the mixture; ``None`` means every file of the track). With
    ``_target_groups`` (one tuple of roles per target) the target is the
    stack of the groups' sums, ``(targets, channels, samples)``.
    """

    tracks: List[Track]
    _target_roles: Tuple[str, ...] = ()
    _mixture_roles: Optional[Tuple[str, ...]] = None
    _target_groups: Optional[Tuple[Tuple[str, ...], ...]] = None

    def _init_track_options(
        self,
        random_chunks: bool,
        random_track_mix: bool,
        source_augmentations: AugmentationSpec,
        remix_prob: Optional[float] = None,
        source_gain: Sequence[float] = GAIN_RANGE,
        repitch_prob: float = 0.0,
        max_semitones: float = 2.0,
    ) -> None:
        """``remix_prob`` None: 1 with ``random_track_mix``, else 0 (``random_track_mix`` with another
        ``remix_prob`` is a DatasetError)."""
        self.random_chunks = bool(random_chunks)
        if remix_prob is None:
            remix_prob = 1.0 if random_track_mix else 0.0
        self.remix_prob = _checked("remix_prob", check_probability, remix_prob)
        if random_track_mix and self.remix_prob != 1.0:
            raise DatasetError(f"random_track_mix means remix_prob 1, not {self.remix_prob:g}: give one of them")
        self.random_track_mix = self.remix_prob == 1.0
        self.augmentations = build_augmentations(source_augmentations, gain=source_gain)
        self.source_gain = check_gain_range(source_gain)
        self._init_repitch(repitch_prob, max_semitones)

    def _remix(self, rng: np.random.Generator) -> bool:
        """Whether an item takes its sources from random tracks (a draw only when ``0 < remix_prob < 1``)."""
        if self.remix_prob in (0.0, 1.0):
            return self.remix_prob == 1.0
        return bool(rng.random() < self.remix_prob)

    def _apply_short_policy(self, where: PathLike) -> None:
        frames = self.excerpt_frames if self.train_mode else None
        self.tracks = short_policy(
            self.tracks,
            lambda t: list(t.files.values()),
            lambda t: t.name,
            frames,
            self.sample_rate,
            self.short_tracks,
            where,
        )

    def _track(self, i: int) -> Track:
        """Track ``i``, ready to be read (hook for the MUSDB stem cache)."""
        return self.tracks[i]

    def __len__(self) -> int:
        per_track = self.samples_per_track if self.train_mode else 1
        return len(self.tracks) * per_track

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mixture, target)``, float32 tensors of shape ``(nb_channels, samples)``.

        ``samples`` is ``round(seq_duration * sample_rate)`` in training mode,
        the track's length (its longest file) otherwise.
        """
        index = self._check_index(index)
        if self.train_mode:
            sources = self._train_sources(index)
        else:
            track = self._track(index)
            sources = {role: self._read(f, 0, None) for role, f in track.files.items()}
            n = max(x.shape[-1] for x in sources.values())
            sources = {role: fix_length(x, n) for role, x in sources.items()}
        return to_tensors(*self._mix(sources))

    def _train_sources(self, index: int) -> Dict[str, np.ndarray]:
        rng = self.item_rng(index)
        frames = self.excerpt_frames
        assert frames is not None
        track_index, chunk = divmod(index, self.samples_per_track)
        track = self._track(track_index)
        length = track.length(self.sample_rate)
        start = excerpt_start(rng, length, frames, self.random_chunks, chunk)
        remix = self._remix(rng)
        sources = {}
        for role, file in track.files.items():
            if remix:
                file = self._track(int(rng.integers(len(self.tracks)))).files[role]
                start = excerpt_start(
                    rng, file.length(self.sample_rate), frames, self.random_chunks, chunk
                )
            x = self._read_source(file, start, frames, rng)
            sources[role] = apply_augmentations(x, self.augmentations, rng)
        return sources

    def _mix(self, sources: Dict[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        roles = self._mixture_roles if self._mixture_roles is not None else tuple(sources)
        mixture = sum_sources([sources[r] for r in roles])
        if self._target_groups is not None:
            return mixture, np.stack([self._sum_roles(sources, g, mixture) for g in self._target_groups])
        return mixture, self._sum_roles(sources, self._target_roles, mixture)

    @staticmethod
    def _sum_roles(sources: Dict[str, np.ndarray], roles: Sequence[str], like: np.ndarray) -> np.ndarray:
        present = [sources[r] for r in roles if r in sources]
        return sum_sources(present) if present else np.zeros_like(like)

    def stats_sources(self) -> List[List[Path]]:
        """For each track, the files whose sum is its unaugmented mixture."""
        out = []
        for track in self.tracks:
            roles = self._mixture_roles if self._mixture_roles is not None else tuple(track.files)
            out.append([track.files[r].path for r in roles if r in track.files])
        return out



"""Torch datasets for training Open-Unmix target models.

Every dataset item is a pair ``(mixture, target)`` of float32 tensors shaped
``(nb_channels, samples)`` at the dataset's ``sample_rate``.

Layouts (``root`` is the folder given to a dataset):

* :class:`MUSDBDataset` -- MUSDB18 through the ``musdb`` package, as
  ``.stem.mp4`` files (decoded once into a wav cache) or as wav folders.
* :class:`AlignedDataset` -- ``root/<split>/<track>/{input_file,output_file}``.
* :class:`UnalignedDataset` -- ``root/<split>/<source>/*.wav``; the mixture is
  the sum of a target excerpt and one random excerpt per interference folder.
* :class:`FixedSourcesTrackFolderDataset` -- ``root/<split>/<track>/`` with the
  same source files in every track.
* :class:`VariableSourcesTrackFolderDataset` -- ``root/<split>/<track>/`` with
  any set of source files per track.

Training and validation. A dataset is in *training mode* when
``split == 'train'`` and ``seq_duration`` is set: it then has
``nb_tracks * samples_per_track`` items, each a random excerpt of
``seq_duration`` seconds with random per-source augmentations. Otherwise an
item is a whole track, read deterministically without augmentation, and there
is one item per track (the unaligned layout, which has no tracks, uses fixed
excerpts instead, see :class:`UnalignedDataset`).

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
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import numpy as np
import torch
from torch.utils.data import Dataset

from . import audio
from .audio import AudioError, PathLike

__all__ = [
    "DatasetError",
    "ShortFileWarning",
    "AudioFile",
    "MUSDB_SOURCES",
    "MUSDB_TARGETS",
    "DEFAULT_AUGMENTATIONS",
    "VALID_TRACKS_FILE",
    "probe_file",
    "read_excerpt",
    "fix_length",
    "sum_sources",
    "excerpt_start",
    "augment_gain",
    "augment_channelswap",
    "build_augmentations",
    "apply_augmentations",
    "read_valid_tracks",
    "write_wav_cache",
    "MUSDBDataset",
    "AlignedDataset",
    "UnalignedDataset",
    "FixedSourcesTrackFolderDataset",
    "VariableSourcesTrackFolderDataset",
    "load_datasets",
]

#: A per-source augmentation: ``(audio (channels, samples), rng) -> audio``.
Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AugmentationSpec = Optional[Sequence[Union[str, Augmentation]]]

MUSDB_SOURCES: Tuple[str, ...] = ("vocals", "drums", "bass", "other")
MUSDB_TARGETS: Tuple[str, ...] = MUSDB_SOURCES + ("accompaniment",)
DEFAULT_AUGMENTATIONS: Tuple[str, ...] = ("gain", "channelswap")
#: File in a dataset root listing its validation tracks, one name per line.
VALID_TRACKS_FILE = "valid_tracks.txt"

T = TypeVar("T")

# Context (in samples at the lower of the two rates) read on each side of an
# excerpt that is resampled; the soxr HQ filter needs less than half of it.
_RESAMPLE_MARGIN = 256


class DatasetError(Exception):
    """A dataset that cannot be used (no tracks, a missing or unreadable file).

    The message names the folder or file concerned.
    """


class ShortFileWarning(UserWarning):
    """A file shorter than the training excerpt, which will be zero-padded."""


# ---------------------------------------------------------------------------
# Pure helpers shared by all datasets
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


def probe_file(path: PathLike, nb_channels: int, what: str = "audio") -> AudioFile:
    """Index ``path`` (header only) and check it can feed an ``nb_channels`` model.

    Raises:
        DatasetError: missing file (the message says it is a missing ``what``
            file), unreadable audio, or an unusable channel count.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: missing {what} file")
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


def augment_gain(
    x: np.ndarray, rng: np.random.Generator, low: float = 0.25, high: float = 1.25
) -> np.ndarray:
    """Scale ``(channels, samples)`` audio by a gain drawn uniformly in ``[low, high)``."""
    return x * np.float32(rng.uniform(low, high))


def augment_channelswap(
    x: np.ndarray, rng: np.random.Generator, p: float = 0.5
) -> np.ndarray:
    """Swap the two channels of stereo ``(channels, samples)`` audio with probability ``p``.

    The random draw is made for every input so that the random stream does not
    depend on the channel count.
    """
    swap = rng.random() < p
    if swap and x.shape[0] == 2:
        return np.ascontiguousarray(x[::-1])
    return x


_AUGMENTATIONS: Dict[str, Augmentation] = {
    "gain": augment_gain,
    "channelswap": augment_channelswap,
}


def build_augmentations(spec: AugmentationSpec) -> Tuple[Augmentation, ...]:
    """Turn names (``'gain'``, ``'channelswap'``) and callables into augmentations.

    ``None`` or an empty sequence means no augmentation.
    """
    if spec is None:
        return ()
    if isinstance(spec, str) or callable(spec):
        spec = [spec]  # type: ignore[list-item]
    out = []
    for item in spec:
        if callable(item):
            out.append(item)
        elif item in _AUGMENTATIONS:
            out.append(_AUGMENTATIONS[item])
        else:
            raise ValueError(
                f"unknown source augmentation {item!r}; "
                f"known: {', '.join(_AUGMENTATIONS)} (or a callable)"
            )
    return tuple(out)


def apply_augmentations(
    x: np.ndarray, augmentations: Sequence[Augmentation], rng: np.random.Generator
) -> np.ndarray:
    """Apply ``augmentations`` in order to ``(channels, samples)`` audio."""
    for fn in augmentations:
        x = fn(x, rng)
    return x


def read_valid_tracks(root: PathLike) -> Optional[List[str]]:
    """Track names listed in ``root/valid_tracks.txt`` (one per line), or ``None``.

    Blank lines are ignored and names are stripped of surrounding whitespace.
    """
    path = Path(root) / VALID_TRACKS_FILE
    if not path.is_file():
        return None
    names = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [n for n in names if n]


def _short_policy(
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


def _track_folders(folder: Path) -> List[Path]:
    """Sorted, non-hidden sub-folders of ``folder`` (one per track)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    tracks = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not tracks:
        raise DatasetError(f"{folder}: no track folders")
    return tracks


def _to_tensors(mixture: np.ndarray, target: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)),
    )


# ---------------------------------------------------------------------------
# Base classes
# ---------------------------------------------------------------------------


class _BaseDataset(Dataset):
    """Settings, epoch and per-item random generators shared by all datasets."""

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

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def stats_sources(self) -> List[List[Path]]:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass
class _Track:
    """A track: its name and its files by role (role -> file, in mixing order)."""

    name: str
    files: Dict[str, AudioFile]

    def length(self, sample_rate: float) -> int:
        return min(f.length(sample_rate) for f in self.files.values())


class _TrackDataset(_BaseDataset):
    """Datasets made of tracks whose files are mixed into ``(mixture, target)``.

    Subclasses fill ``self.tracks`` and set ``_target_roles`` (roles summed into
    the target; a missing one is silence) and ``_mixture_roles`` (roles summed
    into the mixture; ``None`` means every file of the track). With
    ``_target_groups`` (one tuple of roles per target) the target is the
    stack of the groups' sums, ``(targets, channels, samples)``.
    """

    tracks: List[_Track]
    _target_roles: Tuple[str, ...] = ()
    _mixture_roles: Optional[Tuple[str, ...]] = None
    _target_groups: Optional[Tuple[Tuple[str, ...], ...]] = None

    def _init_track_options(
        self,
        random_chunks: bool,
        random_track_mix: bool,
        source_augmentations: AugmentationSpec,
    ) -> None:
        self.random_chunks = bool(random_chunks)
        self.random_track_mix = bool(random_track_mix)
        self.augmentations = build_augmentations(source_augmentations)

    def _apply_short_policy(self, where: PathLike) -> None:
        frames = self.excerpt_frames if self.train_mode else None
        self.tracks = _short_policy(
            self.tracks,
            lambda t: list(t.files.values()),
            lambda t: t.name,
            frames,
            self.sample_rate,
            self.short_tracks,
            where,
        )

    def _track(self, i: int) -> _Track:
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
        return _to_tensors(*self._mix(sources))

    def _train_sources(self, index: int) -> Dict[str, np.ndarray]:
        rng = self.item_rng(index)
        frames = self.excerpt_frames
        assert frames is not None
        track_index, chunk = divmod(index, self.samples_per_track)
        track = self._track(track_index)
        length = track.length(self.sample_rate)
        start = excerpt_start(rng, length, frames, self.random_chunks, chunk)
        sources = {}
        for role, file in track.files.items():
            if self.random_track_mix:
                file = self._track(int(rng.integers(len(self.tracks)))).files[role]
                start = excerpt_start(
                    rng, file.length(self.sample_rate), frames, self.random_chunks, chunk
                )
            x = self._read(file, start, frames)
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


# ---------------------------------------------------------------------------
# MUSDB18
# ---------------------------------------------------------------------------


def _cache_paths(folder: Path) -> Dict[str, Path]:
    return {name: folder / f"{name}.wav" for name in ("mixture",) + MUSDB_SOURCES}


def _cache_is_fresh(stem_path: Path, paths: Sequence[Path]) -> bool:
    try:
        stem_mtime = stem_path.stat().st_mtime
        return all(p.stat().st_mtime >= stem_mtime for p in paths)
    except OSError:
        return False


def write_wav_cache(track: Any, folder: PathLike) -> Dict[str, Path]:
    """Decode a musdb stem track once and write ``mixture.wav`` and each source's wav.

    ``track`` is a ``musdb`` track (``.stems`` of shape ``(stems, samples,
    channels)``, ``.rate``, ``.stem_id``, ``.sources[name].stem_id``). Each file
    is written atomically (temporary file, then ``os.replace``), so concurrent
    writers (DataLoader workers) and interrupted runs never leave partial files.

    Returns:
        ``{'mixture': path, 'vocals': path, ...}``.
    """
    folder = Path(folder)
    stems = np.asarray(track.stems, dtype=np.float32)
    if stems.ndim == 2:  # mono stems come back squeezed to (stems, samples)
        stems = stems[..., None]
    rate = getattr(track, "_rate", None) or track.rate
    ids = {"mixture": track.stem_id}
    ids.update({name: track.sources[name].stem_id for name in MUSDB_SOURCES})
    folder.mkdir(parents=True, exist_ok=True)
    paths = _cache_paths(folder)
    for name, stem_id in ids.items():
        if stem_id >= stems.shape[0]:
            raise DatasetError(f"{track.path}: no stream {stem_id} ({name}) in the stem file")
        audio.save(paths[name], stems[stem_id].T, rate)
    return paths


def _musdb_roles(target: str) -> Tuple[str, ...]:
    """The MUSDB sources summed into ``target``."""
    return ("drums", "bass", "other") if target == "accompaniment" else (target,)


class MUSDBDataset(_TrackDataset):
    """MUSDB18 (stems or wav) through the ``musdb`` package.

    Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)``. The mixture is the sum of the four sources
    (vocals, drums, bass, other); the target is one source, or
    ``'accompaniment'`` (drums + bass + other). With ``joint_targets`` (e.g.
    all four sources, for X-UMX) the target is every one of them, stacked:
    ``(len(joint_targets), nb_channels, samples)``, and ``target`` is ignored.

    Training mode (``split='train'`` with ``seq_duration``):
    ``len = nb_tracks * samples_per_track``; item ``i`` is an excerpt of
    ``seq_duration`` seconds of track ``i // samples_per_track`` (random start
    with ``random_chunks``, else consecutive excerpts), every source with its
    own augmentations (random gain 0.25-1.25 and channel swap by default).
    With ``random_track_mix`` each source comes from its own random track and
    random start. Otherwise: whole tracks, deterministic, no augmentation,
    ``len = nb_tracks``.

    Split: ``valid_tracks=None`` uses musdb's own train/valid split (which only
    exists for ``subsets='train'``; other subsets are used whole). With a list
    of track names, ``split='valid'`` selects exactly those tracks of the
    subsets and ``split='train'`` all the others.

    Stems (``is_wav=False``): each track is decoded once, on first use, into
    ``cache_dir/<subset>/<track>/{mixture,vocals,drums,bass,other}.wav``
    (default ``cache_dir``: ``root/.wav-cache``), then read like wav tracks,
    with seeks. A cache older than its stem file is rewritten.
    :meth:`prepare_cache` fills the cache for every track at once.
    """

    def __init__(
        self,
        root: PathLike,
        target: str = "vocals",
        is_wav: bool = False,
        subsets: Union[str, Sequence[str]] = "train",
        split: str = "train",
        seq_duration: Optional[float] = 6.0,
        samples_per_track: int = 64,
        random_chunks: bool = True,
        random_track_mix: bool = False,
        source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        seed: int = 42,
        valid_tracks: Optional[Sequence[str]] = None,
        cache_dir: Optional[PathLike] = None,
        short_tracks: str = "pad",
        joint_targets: Optional[Sequence[str]] = None,
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        for name in [target] + list(joint_targets or []):
            if name not in MUSDB_TARGETS:
                raise ValueError(f"unknown MUSDB target {name!r}; choose one of {MUSDB_TARGETS}")
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        self._init_track_options(random_chunks, random_track_mix, source_augmentations)
        self.root = Path(root)
        self.target = target
        self.is_wav = bool(is_wav)
        self.subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        self.valid_tracks = None if valid_tracks is None else list(valid_tracks)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / ".wav-cache"
        self._target_roles = _musdb_roles(target)
        if joint_targets:
            self._target_groups = tuple(_musdb_roles(t) for t in joint_targets)
        self._mixture_roles = MUSDB_SOURCES

        mus_tracks = self._list_tracks()
        self.tracks = []
        self._mixtures: Dict[str, Optional[Path]] = {}
        self._stems: Dict[str, Any] = {}  # track name -> musdb track still to cache
        for t in mus_tracks:
            if self.is_wav:
                folder = Path(t.path).parent
                files = {
                    s: probe_file(folder / f"{s}.wav", self.nb_channels, f"{s} source")
                    for s in MUSDB_SOURCES
                }
                mixture = folder / "mixture.wav"
                self._mixtures[t.name] = mixture if mixture.is_file() else None
            else:
                files = self._stem_files(t)
                self._mixtures[t.name] = self._cache_folder(t) / "mixture.wav"
            self.tracks.append(_Track(t.name, files))
        self._apply_short_policy(self.root)

    # -- track listing -----------------------------------------------------

    def _list_tracks(self) -> List[Any]:
        import musdb

        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such folder")
        use_musdb_split = self.valid_tracks is None and self.subsets == ["train"]
        try:
            db = musdb.DB(
                root=str(self.root),
                is_wav=self.is_wav,
                subsets=self.subsets,
                split=self.split if use_musdb_split else None,
            )
        except Exception as err:
            raise DatasetError(f"{self.root}: cannot list MUSDB tracks ({err})") from None
        tracks = list(db.tracks)
        if self.valid_tracks is not None:
            names = {t.name for t in tracks}
            missing = [n for n in self.valid_tracks if n not in names]
            if missing:
                raise DatasetError(
                    f"{self.root}: validation track(s) not found in subset "
                    f"{'/'.join(self.subsets)}: {', '.join(missing)}"
                )
            wanted = set(self.valid_tracks)
            keep_valid = self.split == "valid"
            tracks = [t for t in tracks if (t.name in wanted) == keep_valid]
        if not tracks:
            kind = "track folders" if self.is_wav else ".stem.mp4 files"
            folders = ", ".join(str(self.root / s) for s in self.subsets)
            raise DatasetError(f"{folders}: no MUSDB {kind} for split {self.split!r}")
        return tracks

    def _cache_folder(self, track: Any) -> Path:
        return self.cache_dir / track.subset / track.name

    def _stem_files(self, track: Any) -> Dict[str, AudioFile]:
        """Files of a stem track: from its cache when fresh, else estimated from the stem."""
        stem_path = Path(track.path)
        info = track.info
        if info is None or info.nb_audio_streams < 5:
            raise DatasetError(f"{stem_path}: not a MUSDB stem file with 5 audio streams")
        paths = _cache_paths(self._cache_folder(track))
        if _cache_is_fresh(stem_path, list(paths.values())):
            return {
                s: probe_file(paths[s], self.nb_channels, f"{s} cache") for s in MUSDB_SOURCES
            }
        self._stems[track.name] = track
        return {
            s: AudioFile(
                paths[s],
                float(track.rate),
                int(track.samples),
                int(info.channels(track.sources[s].stem_id)),
            )
            for s in MUSDB_SOURCES
        }

    def _track(self, i: int) -> _Track:
        track = self.tracks[i]
        if track.name in self._stems:
            mus_track = self._stems[track.name]
            paths = _cache_paths(self._cache_folder(mus_track))
            if not _cache_is_fresh(Path(mus_track.path), list(paths.values())):
                write_wav_cache(mus_track, self._cache_folder(mus_track))
            files = {
                s: probe_file(paths[s], self.nb_channels, f"{s} cache") for s in MUSDB_SOURCES
            }
            track = self.tracks[i] = _Track(track.name, files)
            del self._stems[track.name]
        return track

    def prepare_cache(self) -> None:
        """Decode every stem track not yet in the wav cache (no-op for wav datasets)."""
        for i in range(len(self.tracks)):
            self._track(i)

    def stats_sources(self) -> List[List[Path]]:
        """For each track, ``[mixture.wav]`` when there is one, else the four sources.

        Stem datasets fill their cache first.
        """
        self.prepare_cache()
        out = []
        for track in self.tracks:
            mixture = self._mixtures.get(track.name)
            if mixture is not None and mixture.is_file():
                out.append([mixture])
            else:
                out.append([track.files[s].path for s in MUSDB_SOURCES])
        return out


# ---------------------------------------------------------------------------
# Track-folder datasets
# ---------------------------------------------------------------------------


class AlignedDataset(_TrackDataset):
    """Pairs of aligned files ``root/<split>/<track>/{input_file, output_file}``.

    Items are ``(mixture, target)`` = (``input_file``, ``output_file``) as float32
    tensors of shape ``(nb_channels, samples)``, cut at the same position. In
    training mode (``split='train'`` with ``seq_duration``) there are
    ``nb_tracks * samples_per_track`` excerpts of ``seq_duration`` seconds
    (random start with ``random_chunks``, else consecutive excerpts from the
    start); otherwise one whole track per item.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        input_file: str = "mixture.wav",
        output_file: str = "vocals.wav",
        seq_duration: Optional[float] = None,
        random_chunks: bool = False,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        seed: int = 42,
        samples_per_track: int = 1,
        short_tracks: str = "pad",
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        self._init_track_options(random_chunks, False, None)
        self.root = Path(root)
        self.input_file = input_file
        self.output_file = output_file
        self._target_roles = ("output",)
        self._mixture_roles = ("input",)
        self.tracks = [
            _Track(
                folder.name,
                {
                    "input": probe_file(folder / input_file, self.nb_channels, "input"),
                    "output": probe_file(folder / output_file, self.nb_channels, "output"),
                },
            )
            for folder in _track_folders(self.root / split)
        ]
        self._apply_short_policy(self.root / split)


class FixedSourcesTrackFolderDataset(_TrackDataset):
    """Track folders ``root/<split>/<track>/`` that all hold the same source files.

    Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)``: target = ``target_file``, mixture = target +
    every file of ``interferer_files``. In training mode (``split='train'`` with
    ``seq_duration``): ``nb_tracks * samples_per_track`` excerpts, each source
    augmented on its own; with ``random_track_mix`` each source comes from a
    random track at a random start. Otherwise one whole track per item.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        target_file: str = "vocals.wav",
        interferer_files: Sequence[str] = ("bass.wav", "drums.wav"),
        seq_duration: Optional[float] = None,
        random_chunks: bool = False,
        random_track_mix: bool = False,
        source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        seed: int = 42,
        samples_per_track: int = 1,
        short_tracks: str = "pad",
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        if isinstance(interferer_files, str):
            interferer_files = [interferer_files]
        interferer_files = list(interferer_files)
        roles = [target_file] + interferer_files
        if len(set(roles)) != len(roles):
            raise ValueError(f"target and interferer files must differ: {roles}")
        self._init_track_options(random_chunks, random_track_mix, source_augmentations)
        self.root = Path(root)
        self.target_file = target_file
        self.interferer_files = tuple(interferer_files)
        self._target_roles = (target_file,)
        self._mixture_roles = tuple(roles)
        self.tracks = [
            _Track(
                folder.name,
                {name: probe_file(folder / name, self.nb_channels, "source") for name in roles},
            )
            for folder in _track_folders(self.root / split)
        ]
        self._apply_short_policy(self.root / split)


class VariableSourcesTrackFolderDataset(_TrackDataset):
    """Track folders ``root/<split>/<track>/`` with any set of source files.

    Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)``: mixture = sum of every ``*ext`` file of the track
    folder (and ``target_file``), target = ``target_file``. A track without
    ``target_file`` is skipped (with a warning) unless
    ``silence_missing_targets``, then its target is silence. Training mode
    (``split='train'`` with ``seq_duration``) gives
    ``nb_tracks * samples_per_track`` excerpts, each source augmented on its
    own; otherwise one whole track per item.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        target_file: str = "vocals.wav",
        ext: str = ".wav",
        seq_duration: Optional[float] = None,
        random_chunks: bool = False,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        silence_missing_targets: bool = False,
        seed: int = 42,
        samples_per_track: int = 1,
        source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
        short_tracks: str = "pad",
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        self._init_track_options(random_chunks, False, source_augmentations)
        self.root = Path(root)
        self.target_file = target_file
        self.ext = ext
        self.silence_missing_targets = bool(silence_missing_targets)
        self._target_roles = (target_file,)
        self._mixture_roles = None
        where = self.root / split
        self.tracks = []
        missing = []
        for folder in _track_folders(where):
            names = sorted(
                p.name
                for p in folder.iterdir()
                if p.is_file() and not p.name.startswith(".")
                and (p.name.endswith(ext) or p.name == target_file)
            )
            if not names:
                raise DatasetError(f"{folder}: no *{ext} source files")
            if target_file not in names:
                missing.append(folder.name)
                if not self.silence_missing_targets:
                    continue
            files = {n: probe_file(folder / n, self.nb_channels, "source") for n in names}
            self.tracks.append(_Track(folder.name, files))
        if missing and not self.silence_missing_targets:
            warnings.warn(
                f"{where}: skipping {len(missing)} track(s) without {target_file}: "
                f"{', '.join(missing)}",
                stacklevel=2,
            )
        if not self.tracks:
            raise DatasetError(f"{where}: no track folder holds {target_file}")
        self._apply_short_policy(where)


# ---------------------------------------------------------------------------
# Unaligned sources
# ---------------------------------------------------------------------------


class UnalignedDataset(_BaseDataset):
    """Independent sources in ``root/<split>/<source>/*.wav``, mixed on the fly.

    Each item is ``(mixture, target)``, float32 tensors of shape
    ``(nb_channels, samples)``: an excerpt of a target file plus, for each
    interference folder, an excerpt of an independently chosen random file
    at a random offset; mixture = linear sum of all of them.

    Only file paths and lengths are indexed at construction (``audio.info``,
    header reads); no audio is loaded, so folders may hold any amount of audio.

    Length: in training mode (``split='train'`` with ``seq_duration``)
    ``len = number of target files * samples_per_track``, item ``i`` using
    target file ``i // samples_per_track`` at a random start, with per-source
    augmentations. Otherwise ``len = number of target files`` and items are
    fixed excerpts: the random choices are drawn from a generator that ignores
    the epoch, so they are the same every time, and nothing is augmented.
    Without ``seq_duration`` the excerpt is the whole target file and the
    interference excerpts have its length (zero-padded when shorter).
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        target: str = "vocals",
        interferences: Sequence[str] = ("noise", "music"),
        seq_duration: Optional[float] = None,
        samples_per_track: int = 64,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        seed: int = 42,
        source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
        ext: str = ".wav",
        short_tracks: str = "pad",
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        interferences = [interferences] if isinstance(interferences, str) else list(interferences)
        if target in interferences:
            raise ValueError(f"target {target!r} is also listed as an interference")
        self.root = Path(root)
        self.target = target
        self.interferences = tuple(interferences)
        self.ext = ext
        self.augmentations = build_augmentations(source_augmentations)
        where = self.root / split
        if not where.is_dir():
            raise DatasetError(f"{where}: no such folder")
        frames = self.excerpt_frames
        self.target_files = _short_policy(
            self._index(where / target), lambda f: [f], lambda f: f.path.name,
            frames, self.sample_rate, short_tracks, where / target,
        )
        self.interference_files: Dict[str, List[AudioFile]] = {
            name: _short_policy(
                self._index(where / name), lambda f: [f], lambda f: f.path.name,
                frames, self.sample_rate, short_tracks, where / name,
            )
            for name in self.interferences
        }

    def _index(self, folder: Path) -> List[AudioFile]:
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such folder")
        paths = sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.name.endswith(self.ext) and not p.name.startswith(".")
        )
        if not paths:
            raise DatasetError(f"{folder}: no *{self.ext} files")
        return [probe_file(p, self.nb_channels) for p in paths]

    def __len__(self) -> int:
        per_file = self.samples_per_track if self.train_mode else 1
        return len(self.target_files) * per_file

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mixture, target)``, float32 tensors of shape ``(nb_channels, samples)``."""
        index = self._check_index(index)
        rng = self.item_rng(index)
        per_file = self.samples_per_track if self.train_mode else 1
        file = self.target_files[index // per_file]
        augmentations = self.augmentations if self.train_mode else ()
        frames = self.excerpt_frames or file.length(self.sample_rate)
        chosen = [file]
        for name in self.interferences:
            pool = self.interference_files[name]
            chosen.append(pool[int(rng.integers(len(pool)))])
        parts = []
        for f in chosen:
            start = excerpt_start(rng, f.length(self.sample_rate), frames)
            x = self._read(f, start, frames)
            parts.append(apply_augmentations(x, augmentations, rng))
        return _to_tensors(sum_sources(parts), parts[0])

    def stats_sources(self) -> List[List[Path]]:
        """Every target and interference file on its own: ``[[file], ...]``."""
        files = list(self.target_files)
        for name in self.interferences:
            files.extend(self.interference_files[name])
        return [[f.path] for f in files]


# ---------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------

_DATASET_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "musdb": (
        "is_wav", "subset", "subsets", "valid_tracks", "random_track_mix", "random_chunks",
        "source_augmentations", "cache_dir", "short_tracks", "joint_targets",
    ),
    "aligned": ("input_file", "output_file", "random_chunks", "short_tracks"),
    "unaligned": ("interferences", "ext", "source_augmentations", "short_tracks"),
    "trackfolder_fix": (
        "target_file", "interferer_files", "random_track_mix", "random_chunks",
        "source_augmentations", "short_tracks",
    ),
    "trackfolder_var": (
        "target_file", "ext", "silence_missing_targets", "random_chunks",
        "source_augmentations", "short_tracks",
    ),
}


def load_datasets(
    dataset: str,
    root: PathLike,
    target: str = "vocals",
    seq_duration: Optional[float] = 6.0,
    samples_per_track: int = 64,
    sample_rate: float = 44100.0,
    nb_channels: int = 2,
    seed: int = 42,
    **options: Any,
) -> Tuple[Dataset, Dataset]:
    """Build the ``(train, valid)`` datasets of one layout.

    ``dataset`` is one of ``'musdb'``, ``'aligned'``, ``'unaligned'``,
    ``'trackfolder_fix'``, ``'trackfolder_var'``. The training set uses
    ``seq_duration`` excerpts, ``samples_per_track`` per track (per target file
    for unaligned) and random chunks (option ``random_chunks``, default True).
    The validation set returns whole tracks without augmentation, except for
    ``'unaligned'``, whose validation items are fixed (epoch-independent)
    ``seq_duration`` excerpts, one per target file.

    ``options`` (an option set to ``None`` takes its default; options of other
    layouts are ignored):

    * musdb: ``is_wav`` (False), ``subset`` (``'train'``), ``valid_tracks``
      (default: ``root/valid_tracks.txt`` if present, else musdb's split),
      ``random_track_mix``, ``random_chunks``, ``source_augmentations``,
      ``cache_dir``, ``joint_targets`` (several targets per item, stacked).
      ``target`` is the MUSDB target.
    * aligned: ``input_file`` (``'mixture.wav'``), ``output_file``
      (``'<target>.wav'``); splits ``train`` and ``valid``.
    * unaligned: ``interferences`` (``('noise', 'music')``), ``ext``;
      ``target`` is the target folder; splits ``train`` and ``valid``.
    * trackfolder_fix: ``target_file`` (``'<target>.wav'``),
      ``interferer_files`` (``('bass.wav', 'drums.wav')``), ``random_track_mix``.
    * trackfolder_var: ``target_file`` (``'<target><ext>'``), ``ext``
      (``'.wav'``), ``silence_missing_targets``.
    * all: ``short_tracks`` (``'pad'`` or ``'skip'``), and
      ``source_augmentations`` where sources are mixed.

    Raises:
        DatasetError: unknown dataset name, or a dataset that cannot be built.
        TypeError: an option no layout knows.
    """
    if dataset not in _DATASET_OPTIONS:
        raise DatasetError(
            f"unknown dataset {dataset!r}; choose one of {', '.join(_DATASET_OPTIONS)}"
        )
    known = {name for names in _DATASET_OPTIONS.values() for name in names}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"load_datasets: unknown option(s) {', '.join(unknown)}")
    opts = {k: v for k, v in options.items() if v is not None and k in _DATASET_OPTIONS[dataset]}
    root = Path(root)
    common: Dict[str, Any] = dict(
        sample_rate=sample_rate,
        nb_channels=nb_channels,
        seed=seed,
        short_tracks=opts.pop("short_tracks", "pad"),
    )
    random_chunks = opts.pop("random_chunks", True)
    augmentations = opts.pop("source_augmentations", DEFAULT_AUGMENTATIONS)
    train_only: Dict[str, Any] = dict(
        seq_duration=seq_duration, samples_per_track=samples_per_track
    )

    if dataset == "musdb":
        subsets = opts.pop("subset", opts.pop("subsets", "train"))
        valid_tracks = opts.pop("valid_tracks", None)
        if valid_tracks is None:
            valid_tracks = read_valid_tracks(root)
        base = dict(
            root=root, target=target, subsets=subsets, valid_tracks=valid_tracks,
            is_wav=opts.pop("is_wav", False), cache_dir=opts.pop("cache_dir", None),
            joint_targets=opts.pop("joint_targets", None), **common,
        )
        train = MUSDBDataset(
            split="train", random_chunks=random_chunks,
            random_track_mix=opts.pop("random_track_mix", False),
            source_augmentations=augmentations, **train_only, **base,
        )
        valid = MUSDBDataset(
            split="valid", seq_duration=None, samples_per_track=1,
            source_augmentations=None, **base,
        )
    elif dataset == "aligned":
        base = dict(
            root=root, input_file=opts.pop("input_file", "mixture.wav"),
            output_file=opts.pop("output_file", f"{target}.wav"), **common,
        )
        train = AlignedDataset(split="train", random_chunks=random_chunks, **train_only, **base)
        valid = AlignedDataset(split="valid", seq_duration=None, **base)
    elif dataset == "unaligned":
        base = dict(
            root=root, target=target,
            interferences=opts.pop("interferences", ("noise", "music")),
            ext=opts.pop("ext", ".wav"), **common,
        )
        train = UnalignedDataset(
            split="train", source_augmentations=augmentations, **train_only, **base
        )
        valid = UnalignedDataset(
            split="valid", seq_duration=seq_duration, samples_per_track=1,
            source_augmentations=None, **base,
        )
    elif dataset == "trackfolder_fix":
        base = dict(
            root=root, target_file=opts.pop("target_file", f"{target}.wav"),
            interferer_files=opts.pop("interferer_files", ("bass.wav", "drums.wav")), **common,
        )
        train = FixedSourcesTrackFolderDataset(
            split="train", random_chunks=random_chunks,
            random_track_mix=opts.pop("random_track_mix", False),
            source_augmentations=augmentations, **train_only, **base,
        )
        valid = FixedSourcesTrackFolderDataset(
            split="valid", seq_duration=None, source_augmentations=None, **base
        )
    else:  # trackfolder_var
        ext = opts.pop("ext", ".wav")
        base = dict(
            root=root, target_file=opts.pop("target_file", f"{target}{ext}"), ext=ext,
            silence_missing_targets=opts.pop("silence_missing_targets", False), **common,
        )
        train = VariableSourcesTrackFolderDataset(
            split="train", random_chunks=random_chunks,
            source_augmentations=augmentations, **train_only, **base,
        )
        valid = VariableSourcesTrackFolderDataset(
            split="valid", seq_duration=None, source_augmentations=None, **base
        )
    return train, valid

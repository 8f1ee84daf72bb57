"""MUSDB18 through the ``musdb`` package: :class:`MUSDBDataset` and its wav cache.

Layout ``musdb``: ``.stem.mp4`` files under ``root/{train,test}`` (each
decoded once into a wav cache, ``root/.wav-cache`` by default) or, with
``is_wav``, ``root/{train,test}/<track>/<source>.wav``. ``musdb`` itself is
imported only when tracks are listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from torch.utils.data import Dataset

from .. import audio
from ..audio import PathLike
from .augment import (
    DEFAULT_AUGMENTATIONS, GAIN_RANGE, MAX_SEMITONES_OPTION, REMIX_PROB, REPITCH_PROB, SOURCE_GAIN, AugmentationSpec,
)
from .common import (
    RANDOM_CHUNKS, RANDOM_TRACK_MIX, SHORT_TRACKS, SOURCE_AUGMENTATIONS, AudioFile, Track, TrackDataset, probe_file,
    read_valid_tracks,
)
from .errors import DatasetError, DatasetNameError
from .registry import DatasetOption, DatasetSettings, register_layout
from .sources import MUSDB_ROLES, MUSDB_SOURCES, MUSDB_TARGETS

__all__ = ["MUSDBDataset", "write_wav_cache", "build_musdb"]


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


class MUSDBDataset(TrackDataset):
    """MUSDB18 (stems or wav) through the ``musdb`` package.

    Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)``. The mixture is the sum of the four sources
    (vocals, drums, bass, other); the target is one source, or
    ``'accompaniment'`` (drums + bass + other). With ``joint_targets`` (e.g.
    all four sources, for a joint model) the target is every one of them, stacked:
    ``(len(joint_targets), nb_channels, samples)``, and ``target`` is ignored.

    Training mode (``split='train'`` with ``seq_duration``):
    ``len = nb_tracks * samples_per_track``; item ``i`` is an excerpt of
    ``seq_duration`` seconds of track ``i // samples_per_track`` (random start
    with ``random_chunks``, else consecutive excerpts), every source with its
    own augmentations (random gain 0.25-1.25 and channel swap by default).
    With ``random_track_mix`` each source comes from its own random track and
    random start; with ``remix_prob`` an item does so with that probability.
    ``source_gain`` is the gain augmentation's range; with ``repitch_prob``
    each source is resampled to another pitch and tempo (up to
    ``max_semitones``) with that probability, before the augmentations. Otherwise: whole tracks, deterministic, no augmentation,
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
        remix_prob: Optional[float] = None,
        source_gain: Sequence[float] = GAIN_RANGE,
        repitch_prob: float = 0.0,
        max_semitones: float = 2.0,
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        for name in [target] + list(joint_targets or []):
            if name not in MUSDB_TARGETS:
                raise DatasetNameError(
                    f"unknown MUSDB target {name!r}; choose one of {', '.join(MUSDB_TARGETS)}"
                )
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        self._init_track_options(random_chunks, random_track_mix, source_augmentations, remix_prob, source_gain,
                                 repitch_prob, max_semitones)
        self.root = Path(root)
        self.target = target
        self.is_wav = bool(is_wav)
        self.subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        self.valid_tracks = None if valid_tracks is None else list(valid_tracks)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / ".wav-cache"
        self._target_roles = MUSDB_ROLES[target]
        if joint_targets:
            self._target_groups = tuple(MUSDB_ROLES[t] for t in joint_targets)
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
            self.tracks.append(Track(t.name, files))
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

    def _track(self, i: int) -> Track:
        track = self.tracks[i]
        if track.name in self._stems:
            mus_track = self._stems[track.name]
            paths = _cache_paths(self._cache_folder(mus_track))
            if not _cache_is_fresh(Path(mus_track.path), list(paths.values())):
                write_wav_cache(mus_track, self._cache_folder(mus_track))
            files = {
                s: probe_file(paths[s], self.nb_channels, f"{s} cache") for s in MUSDB_SOURCES
            }
            track = self.tracks[i] = Track(track.name, files)
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


def build_musdb(
    root: Path,
    target: str,
    settings: DatasetSettings,
    *,
    is_wav: bool = False,
    subset: Union[str, Sequence[str], None] = None,
    subsets: Union[str, Sequence[str], None] = None,
    valid_tracks: Optional[Sequence[str]] = None,
    random_track_mix: bool = False,
    random_chunks: bool = True,
    source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
    cache_dir: Optional[PathLike] = None,
    short_tracks: str = "pad",
    joint_targets: Optional[Sequence[str]] = None,
    remix_prob: Optional[float] = None,
    source_gain: Sequence[float] = GAIN_RANGE,
    repitch_prob: float = 0.0,
    max_semitones: float = 2.0,
) -> Tuple[Dataset, Dataset]:
    """The ``(train, valid)`` MUSDB datasets (see :func:`openunmix.data.load_datasets`).

    ``subset`` (or its older spelling ``subsets``) holds both splits (default
    ``'train'``); ``valid_tracks`` defaults to ``root/valid_tracks.txt`` when
    there is one, else musdb's own split.
    """
    if subset is None:
        subset = "train" if subsets is None else subsets
    if valid_tracks is None:
        valid_tracks = read_valid_tracks(root)
    base: Dict[str, Any] = dict(
        root=root, target=target, subsets=subset, valid_tracks=valid_tracks, is_wav=is_wav,
        cache_dir=cache_dir, joint_targets=joint_targets, short_tracks=short_tracks,
        **settings.fixed_args(),
    )
    train = MUSDBDataset(
        split="train", random_chunks=random_chunks, random_track_mix=random_track_mix,
        source_augmentations=source_augmentations, remix_prob=remix_prob, source_gain=source_gain,
        repitch_prob=repitch_prob, max_semitones=max_semitones, **settings.excerpt_args(), **base,
    )
    valid = MUSDBDataset(
        split="valid", seq_duration=None, samples_per_track=1, source_augmentations=None, **base
    )
    return train, valid


IS_WAV = DatasetOption("is_wav", "decoded wav layout instead of .stem.mp4", flag="--is-wav", kind=bool,
                       default=False, switch=True)
SUBSET = DatasetOption("subset", "subset holding train and valid tracks (default: train)", flag="--subset")
VALID_TRACKS = DatasetOption("valid_tracks",
                             "validation track names (default: ROOT/valid_tracks.txt, else musdb's split)",
                             flag="--valid-tracks", nargs="+", metavar="NAME")
# without a flag: for load_datasets callers
SUBSETS = DatasetOption("subsets", "the older spelling of subset")
CACHE_DIR = DatasetOption("cache_dir", "decoded wav cache of the .stem.mp4 tracks")
JOINT_TARGETS = DatasetOption("joint_targets", "several targets per item, stacked", nargs="+")

register_layout(
    "musdb",
    build_musdb,
    (
        IS_WAV, SUBSET, SUBSETS, VALID_TRACKS, RANDOM_TRACK_MIX, RANDOM_CHUNKS,
        SOURCE_AUGMENTATIONS, CACHE_DIR, SHORT_TRACKS, JOINT_TARGETS, REMIX_PROB, SOURCE_GAIN, REPITCH_PROB,
        MAX_SEMITONES_OPTION,
    ),
)

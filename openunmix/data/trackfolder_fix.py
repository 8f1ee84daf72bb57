"""Layout ``trackfolder_fix``: track folders ``root/{train,valid}/<track>/`` that all hold the same source files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple

from torch.utils.data import Dataset

from ..audio import PathLike
from .augment import (
    DEFAULT_AUGMENTATIONS, GAIN_RANGE, MAX_SEMITONES_OPTION, REMIX_PROB, REPITCH_PROB, SOURCE_GAIN, AugmentationSpec,
)
from .common import (
    RANDOM_CHUNKS, RANDOM_TRACK_MIX, SHORT_TRACKS, SOURCE_AUGMENTATIONS, TARGET_FILE, Track, TrackDataset, probe_file,
    track_folders,
)
from .registry import DatasetOption, DatasetSettings, register_layout

__all__ = ["FixedSourcesTrackFolderDataset", "build_trackfolder_fix"]


class FixedSourcesTrackFolderDataset(TrackDataset):
    """Track folders ``root/<split>/<track>/`` that all hold the same source files.

    Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)``: target = ``target_file``, mixture = target +
    every file of ``interferer_files``. In training mode (``split='train'`` with
    ``seq_duration``): ``nb_tracks * samples_per_track`` excerpts, each source
    augmented on its own; with ``random_track_mix`` each source comes from a
    random track at a random start (with ``remix_prob``: an item does so with
    that probability; ``source_gain``, ``repitch_prob``: as
    :class:`~openunmix.data.MUSDBDataset`). Otherwise one whole track per item.
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
        remix_prob: Optional[float] = None,
        source_gain: Sequence[float] = GAIN_RANGE,
        repitch_prob: float = 0.0,
        max_semitones: float = 2.0,
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
        self._init_track_options(random_chunks, random_track_mix, source_augmentations, remix_prob, source_gain,
                                 repitch_prob, max_semitones)
        self.root = Path(root)
        self.target_file = target_file
        self.interferer_files = tuple(interferer_files)
        self._target_roles = (target_file,)
        self._mixture_roles = tuple(roles)
        self.tracks = [
            Track(
                folder.name,
                {name: probe_file(folder / name, self.nb_channels, "source") for name in roles},
            )
            for folder in track_folders(self.root / split)
        ]
        self._apply_short_policy(self.root / split)


def build_trackfolder_fix(
    root: Path,
    target: str,
    settings: DatasetSettings,
    *,
    target_file: Optional[str] = None,
    interferer_files: Sequence[str] = ("bass.wav", "drums.wav"),
    random_track_mix: bool = False,
    random_chunks: bool = True,
    source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
    short_tracks: str = "pad",
    remix_prob: Optional[float] = None,
    source_gain: Sequence[float] = GAIN_RANGE,
    repitch_prob: float = 0.0,
    max_semitones: float = 2.0,
) -> Tuple[Dataset, Dataset]:
    """The ``(train, valid)`` fixed-sources datasets; ``target_file`` defaults to ``<target>.wav``."""
    base = dict(
        root=root, target_file=f"{target}.wav" if target_file is None else target_file,
        interferer_files=interferer_files, short_tracks=short_tracks, **settings.fixed_args(),
    )
    train = FixedSourcesTrackFolderDataset(
        split="train", random_chunks=random_chunks, random_track_mix=random_track_mix,
        source_augmentations=source_augmentations, remix_prob=remix_prob, source_gain=source_gain,
        repitch_prob=repitch_prob, max_semitones=max_semitones, **settings.excerpt_args(), **base,
    )
    valid = FixedSourcesTrackFolderDataset(
        split="valid", seq_duration=None, source_augmentations=None, **base
    )
    return train, valid


INTERFERER_FILES = DatasetOption("interferer_files", "interferer file names", flag="--interferer-files", nargs="+")

register_layout(
    "trackfolder_fix",
    build_trackfolder_fix,
    (TARGET_FILE, INTERFERER_FILES, RANDOM_TRACK_MIX, RANDOM_CHUNKS, SOURCE_AUGMENTATIONS, SHORT_TRACKS, REMIX_PROB,
     SOURCE_GAIN, REPITCH_PROB, MAX_SEMITONES_OPTION),
)

"""Layout ``trackfolder_var``: track folders ``root/{train,valid}/<track>/`` with any source files."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence, Tuple

from torch.utils.data import Dataset

from ..audio import PathLike
from .augment import (
    DEFAULT_AUGMENTATIONS, GAIN_RANGE, MAX_SEMITONES_OPTION, REPITCH_PROB, SOURCE_GAIN, AugmentationSpec,
)
from .common import (
    EXT, RANDOM_CHUNKS, SHORT_TRACKS, SOURCE_AUGMENTATIONS, TARGET_FILE, Track, TrackDataset, listing, probe_file,
    track_folders,
)
from .errors import DatasetError
from .registry import DatasetOption, DatasetSettings, register_layout

__all__ = ["VariableSourcesTrackFolderDataset", "build_trackfolder_var"]


class VariableSourcesTrackFolderDataset(TrackDataset):
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
        source_gain: Sequence[float] = GAIN_RANGE,
        repitch_prob: float = 0.0,
        max_semitones: float = 2.0,
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        self._init_track_options(random_chunks, False, source_augmentations, None, source_gain, repitch_prob,
                                 max_semitones)
        self.root = Path(root)
        self.target_file = target_file
        self.ext = ext
        self.silence_missing_targets = bool(silence_missing_targets)
        self._target_roles = (target_file,)
        self._mixture_roles = None
        where = self.root / split
        self.tracks = []
        missing = []
        first = None  # (name, source files) of the first track, for the error message
        for folder in track_folders(where):
            names = sorted(
                p.name
                for p in folder.iterdir()
                if p.is_file() and not p.name.startswith(".")
                and (p.name.endswith(ext) or p.name == target_file)
            )
            if not names:
                raise DatasetError(f"{folder}: no *{ext} source files")
            first = first or (folder.name, names)
            if target_file not in names:
                missing.append(folder.name)
                if not self.silence_missing_targets:
                    continue
            files = {n: probe_file(folder / n, self.nb_channels, "source") for n in names}
            self.tracks.append(Track(folder.name, files))
        if not self.tracks:  # one line naming the file and what a track holds instead
            raise DatasetError(
                f"{where}: no track folder holds {target_file} ({first[0]} holds {listing(first[1])})"
            )
        if missing and not self.silence_missing_targets:
            warnings.warn(
                f"{where}: skipping {len(missing)} track(s) without {target_file}: "
                f"{', '.join(missing)}",
                stacklevel=2,
            )
        self._apply_short_policy(where)


def build_trackfolder_var(
    root: Path,
    target: str,
    settings: DatasetSettings,
    *,
    target_file: Optional[str] = None,
    ext: str = ".wav",
    silence_missing_targets: bool = False,
    random_chunks: bool = True,
    source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
    short_tracks: str = "pad",
    source_gain: Sequence[float] = GAIN_RANGE,
    repitch_prob: float = 0.0,
    max_semitones: float = 2.0,
) -> Tuple[Dataset, Dataset]:
    """The ``(train, valid)`` variable-sources datasets; ``target_file`` defaults to ``<target><ext>``."""
    base = dict(
        root=root, target_file=f"{target}{ext}" if target_file is None else target_file, ext=ext,
        silence_missing_targets=silence_missing_targets, short_tracks=short_tracks,
        **settings.fixed_args(),
    )
    train = VariableSourcesTrackFolderDataset(
        split="train", random_chunks=random_chunks, source_augmentations=source_augmentations,
        source_gain=source_gain, repitch_prob=repitch_prob, max_semitones=max_semitones,
        **settings.excerpt_args(), **base,
    )
    valid = VariableSourcesTrackFolderDataset(
        split="valid", seq_duration=None, source_augmentations=None, **base
    )
    return train, valid


SILENCE_MISSING_TARGETS = DatasetOption("silence_missing_targets", "a missing target is silence",
                                        flag="--silence-missing", kind=bool, switch=True)

register_layout(
    "trackfolder_var",
    build_trackfolder_var,
    (TARGET_FILE, EXT, SILENCE_MISSING_TARGETS, RANDOM_CHUNKS, SOURCE_AUGMENTATIONS, SHORT_TRACKS, SOURCE_GAIN,
     REPITCH_PROB, MAX_SEMITONES_OPTION),
)

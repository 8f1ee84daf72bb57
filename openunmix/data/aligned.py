"""Layout ``aligned``: pairs of aligned files ``root/{train,valid}/<track>/{mixture.wav,<target>.wav}``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from torch.utils.data import Dataset

from ..audio import PathLike
from .common import RANDOM_CHUNKS, SHORT_TRACKS, Track, TrackDataset, probe_file, track_folders
from .registry import DatasetOption, DatasetSettings, register_layout

__all__ = ["AlignedDataset", "build_aligned"]


class AlignedDataset(TrackDataset):
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
            Track(
                folder.name,
                {
                    "input": probe_file(folder / input_file, self.nb_channels, "input"),
                    "output": probe_file(folder / output_file, self.nb_channels, "output"),
                },
            )
            for folder in track_folders(self.root / split)
        ]
        self._apply_short_policy(self.root / split)


def build_aligned(
    root: Path,
    target: str,
    settings: DatasetSettings,
    *,
    input_file: str = "mixture.wav",
    output_file: Optional[str] = None,
    random_chunks: bool = True,
    short_tracks: str = "pad",
) -> Tuple[Dataset, Dataset]:
    """The ``(train, valid)`` aligned datasets; ``output_file`` defaults to ``<target>.wav``."""
    base = dict(
        root=root, input_file=input_file,
        output_file=f"{target}.wav" if output_file is None else output_file,
        short_tracks=short_tracks, **settings.fixed_args(),
    )
    train = AlignedDataset(
        split="train", random_chunks=random_chunks, **settings.excerpt_args(), **base
    )
    valid = AlignedDataset(split="valid", seq_duration=None, **base)
    return train, valid


INPUT_FILE = DatasetOption("input_file", "mixture file name", flag="--input-file")
OUTPUT_FILE = DatasetOption("output_file", "target file name", flag="--output-file")

register_layout("aligned", build_aligned, (INPUT_FILE, OUTPUT_FILE, RANDOM_CHUNKS, SHORT_TRACKS))

"""Score folders: the museval per-track json of one method, read and checked.

A score folder is what ``eval.py`` writes (``EVALDIR``) or any folder of
museval per-track json, such as a SiSEC 2018 submission::

    DIR/<subset>/<track>.json                    museval's per-frame scores (read)
    DIR/global_sdr/<subset>/<track>.json         whole-track uSDR and SI-SDR (read where present)

A folder without ``<subset>/`` that holds ``<track>.json`` files directly is
read too. A folder that ``eval.py --metrics usdr,sisdr`` wrote has no museval
json: its tracks are those of its whole-track files, without frames. The track name is the file name without ``.json``, as museval has
it. Files may hold bare ``NaN`` tokens (museval writes them for frames whose
reference is silent); Python's json reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..evaluation.aggregate import read_whole_track
from ..evaluation.metrics import SISDR, USDR
from ..evaluation.scoring import Frames, frames_from_museval
from ..evaluation.tracks import GLOBAL_DIR, EvaluationError
from ..utils import PathLike


class CompareError(Exception):
    """Scores or folders that cannot be compared or reported; the message (one line) says why."""


@dataclass(frozen=True)
class TrackFrames:
    """The per-frame scores of one track of one method.

    Attributes:
        frames: ``{target: {metric: (frames,)}}``, NaN where museval gives none.
        times: ``{target: (frames,)}``, the start of each frame in seconds.
        durations: ``{target: (frames,)}``, the length of each frame in seconds.
    """

    frames: Frames
    times: Dict[str, np.ndarray]
    durations: Dict[str, np.ndarray]

    def end(self) -> float:
        """The end of the last frame, in seconds (0 when there are no frames)."""
        ends = [float(np.max(t + d)) for t, d in zip(self.times.values(), self.durations.values()) if t.size]
        return max(ends) if ends else 0.0


@dataclass(frozen=True)
class MethodScores:
    """Everything read from one method's score folder.

    Attributes:
        name: the method's name, as given on the command line.
        folder: the score folder.
        tracks: ``{track: TrackFrames}``, sorted by track name.
        global_sdr: ``{track: {target: dB}}``, the uSDR of the tracks that
            have a whole-track file (what ``eval.py`` writes); empty otherwise.
        sisdr: ``{track: {target: dB}}``, the SI-SDR where the whole-track files have it.
    """

    name: str
    folder: Path
    tracks: Dict[str, TrackFrames]
    global_sdr: Dict[str, Dict[str, float]]
    sisdr: Dict[str, Dict[str, float]] = field(default_factory=dict)

    def targets(self) -> List[str]:
        """The targets found in any of the method's tracks."""
        found = {t for track in self.tracks.values() for t in track.frames}
        for by_track in (self.global_sdr, self.sisdr):
            found |= {t for scores in by_track.values() for t in scores}
        return sorted(found)


# ---------------------------------------------------------------------------
# one file


def read_museval_json(path: PathLike) -> TrackFrames:
    """Read one museval per-track json file.

    Raises:
        CompareError: missing, unreadable, not json, or not museval's track
            scores (``{"targets": [{"name", "frames": [{"time", "duration",
            "metrics": {"SDR", ...}}]}]}``), or no targets at all.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise CompareError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:  # ValueError: bad json and bad utf-8
        raise CompareError(f"{path}: not readable json ({_first_line(err)})") from None
    try:
        frames = frames_from_museval(data)
        times, durations = _frame_times(data)
    except EvaluationError as err:
        raise CompareError(f"{path}: {err}") from None
    if not frames:
        raise CompareError(f"{path}: museval track scores without any target")
    return TrackFrames(frames, times, durations)


def _frame_times(data: Mapping) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """Frame starts and lengths per target; a frame without them is taken as 1 s frames from 0."""
    times: Dict[str, np.ndarray] = {}
    durations: Dict[str, np.ndarray] = {}
    try:
        for target in data["targets"]:
            frames = target["frames"]
            t = [float(f.get("time", i)) for i, f in enumerate(frames)]
            d = [float(f.get("duration", 1.0)) for f in frames]
            times[str(target["name"])] = np.asarray(t, dtype=np.float64)
            durations[str(target["name"])] = np.asarray(d, dtype=np.float64)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise EvaluationError(f"not museval track scores ({type(err).__name__}: {err})") from None
    return times, durations


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


# ---------------------------------------------------------------------------
# one folder


def score_files(folder: PathLike, subset: str = "test", whole_ok: bool = False) -> List[Path]:
    """The museval json files of a score folder, sorted by track name.

    ``folder/<subset>/*.json`` when that folder exists, else ``folder/*.json``;
    with ``whole_ok``, an empty list when there are none but the folder has
    whole-track files (``folder/global_sdr/<subset>/*.json``).

    Raises:
        CompareError: the folder does not exist, or holds no scores.
    """
    folder = Path(folder)
    if not folder.exists():
        raise CompareError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise CompareError(f"{folder}: not a folder")
    where = folder / subset if (folder / subset).is_dir() else folder
    files = sorted((p for p in where.glob("*.json") if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: p.stem)
    if not files and not (whole_ok and _whole_files(folder, subset)):
        raise CompareError(f"{folder}: no museval json (expected {folder / subset}/<track>.json files)")
    return files


def _whole_files(folder: Path, subset: str) -> List[Path]:
    where = folder / GLOBAL_DIR / subset
    if not where.is_dir():
        return []
    return sorted((p for p in where.glob("*.json") if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: p.stem)


def load_method(name: str, folder: PathLike, subset: str = "test") -> MethodScores:
    """Read the score folder of one method (see the module's docstring for the layout).

    Raises:
        CompareError: a missing folder, no json files, or a file that is not
            museval track scores (the message names it).
    """
    folder = Path(folder)
    tracks = {path.stem: read_museval_json(path) for path in score_files(folder, subset, whole_ok=True)}
    if not tracks:  # whole-track metrics only (eval.py --metrics without bsseval)
        tracks = {path.stem: TrackFrames({}, {}, {}) for path in _whole_files(folder, subset)}
    glob: Dict[str, Dict[str, float]] = {}
    sisdr: Dict[str, Dict[str, float]] = {}
    glob_dir = folder / GLOBAL_DIR / subset
    for track in tracks:
        path = glob_dir / f"{track}.json"
        if path.is_file():
            try:
                whole = read_whole_track(path)
            except EvaluationError as err:
                raise CompareError(str(err)) from None
            if USDR in whole:
                glob[track] = whole[USDR]
            if SISDR in whole:
                sisdr[track] = whole[SISDR]
    return MethodScores(name, folder, tracks, glob, sisdr)


# ---------------------------------------------------------------------------
# several methods


def check_method_names(names: Sequence[str], minimum: int = 2) -> None:
    """Raise :class:`CompareError` for empty or repeated names, or fewer than ``minimum`` methods."""
    for name in names:
        if not name.strip() or any(ord(c) < 32 for c in name):
            raise CompareError(f"{name!r}: not a usable method name")
    seen = set()
    for name in names:
        if name in seen:
            raise CompareError(f"method name {name!r} given twice; name each method once (NAME=DIR)")
        seen.add(name)
    if len(names) < minimum:
        raise CompareError(f"at least {minimum} methods are needed to compare, got {len(names)}")


def load_methods(folders: Sequence[Tuple[str, PathLike]], subset: str = "test", minimum: int = 2) -> List[MethodScores]:
    """Read the score folders of several methods and check that they can be compared.

    Args:
        folders: ``(name, score folder)`` pairs, in the order given.
        minimum: the fewest methods accepted (2 to compare; 1 for the report
            of a single evaluation).

    Raises:
        CompareError: repeated or empty names, fewer than ``minimum`` methods,
            an unusable folder or file, or no track that every method has.
    """
    check_method_names([name for name, _ in folders], minimum)
    methods = [load_method(name, folder, subset) for name, folder in folders]
    common, _ = shared_tracks(methods)
    if not common:
        counts = ", ".join(f"{m.name}: {len(m.tracks)}" for m in methods)
        raise CompareError(f"the methods have no track in common ({counts} tracks)")
    return methods


def shared_tracks(methods: Sequence[MethodScores]) -> Tuple[List[str], Dict[str, List[str]]]:
    """The tracks every method has, and those only some have.

    Returns:
        ``(common track names, {partial track: names of the methods that have it})``,
        both sorted by track name.
    """
    every = [set(m.tracks) for m in methods]
    union = set().union(*every) if every else set()
    common = set.intersection(*every) if every else set()
    partial = {t: [m.name for m in methods if t in m.tracks] for t in sorted(union - common)}
    return sorted(common), partial

"""MUSDB18 tracks and the folders of an evaluation: listing, names, paths, checks.

Layout of an evaluation (``subset`` is ``train`` or ``test``)::

    ESTIMATES_DIR/<subset>/<track>/<source>.wav     estimates, 32-bit float
    EVAL_DIR/<subset>/<track>.json                   museval's per-frame scores (metric bsseval)
    EVAL_DIR/global_sdr/<subset>/<track>.json        whole-track metrics per target (uSDR, SI-SDR)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import torch

from ..data.sources import MUSDB_TARGETS as _MUSDB_TARGETS
from ..distributed import Context
from ..separation.sharding import Shard, share_of
from ..utils import PathLike, remove_stale_temporaries
from .metrics import BSSEVAL, DEFAULT_METRICS, WHOLE_TRACK

# the targets musdb defines (its mus.yaml), in the order they are reported
MUSDB_TARGETS: Tuple[str, ...] = tuple(_MUSDB_TARGETS) + ("linear_mixture",)
GLOBAL_DIR = "global_sdr"
ALONE = Context(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))  # one process, no torchrun


class EvaluationError(Exception):
    """A dataset, estimate folder or result file that cannot be evaluated; the message (one line) says why."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


# ---------------------------------------------------------------------------
# paths


def estimates_folder(estimates_dir: PathLike, subset: str, track: str) -> Path:
    """``estimates_dir/<subset>/<track>``: one ``<source>.wav`` per source."""
    return Path(estimates_dir) / subset / track


def scores_path(evaldir: PathLike, subset: str, track: str) -> Path:
    """``evaldir/<subset>/<track>.json``: museval's per-frame scores."""
    return Path(evaldir) / subset / f"{track}.json"


def global_sdr_path(evaldir: PathLike, subset: str, track: str) -> Path:
    """``evaldir/global_sdr/<subset>/<track>.json``: whole-track SDR per target.

    Kept out of ``evaldir/<subset>`` so that museval's ``EvalStore.add_eval_dir``
    reads only its own files.
    """
    return Path(evaldir) / GLOBAL_DIR / subset / f"{track}.json"


def has_estimates(folder: PathLike, sources: Sequence[str]) -> bool:
    """Whether ``folder`` holds ``<source>.wav`` for every source."""
    return all((Path(folder) / f"{s}.wav").is_file() for s in sources)


def is_scored(evaldir: PathLike, subset: str, track: str, metrics: Sequence[str] = DEFAULT_METRICS) -> bool:
    """Whether the result files of a track hold every metric of ``metrics`` (museval's json for ``bsseval``,
    the whole-track file for the others; a whole-track file of before SI-SDR holds the uSDR only)."""
    if BSSEVAL in metrics and not scores_path(evaldir, subset, track).is_file():
        return False
    path = global_sdr_path(evaldir, subset, track)
    if not path.is_file():
        return False
    wanted = [m for m in WHOLE_TRACK if m in metrics]
    if not wanted:
        return True
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    have = set(data) | ({"usdr"} if "global_sdr" in data else set()) if isinstance(data, dict) else set()
    return all(m in have for m in wanted)


def remove_stale_results(evaldir: PathLike, subset: str) -> None:
    """Remove what killed runs of this host left in the folders results are written to."""
    evaldir = Path(evaldir)
    for folder in (evaldir, evaldir / subset, evaldir / GLOBAL_DIR / subset):
        remove_stale_temporaries(folder)


def check_writable(folder: PathLike, what: str) -> None:
    """Raise :class:`EvaluationError` unless ``folder`` is, or can be created as, a writable folder.

    Nothing is created: a run that fails later leaves no empty folders behind.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise EvaluationError(f"{folder}: cannot create the {what} folder ({probe} is not a folder)")
    if not os.access(probe, os.W_OK | os.X_OK):
        if probe == folder:
            raise EvaluationError(f"{folder}: the {what} folder is not writable")
        raise EvaluationError(f"{folder}: cannot create the {what} folder ({probe} is not writable)")


# ---------------------------------------------------------------------------
# what can be scored


def scorable(sources: Sequence[str]) -> List[str]:
    """The sources museval scores: those that are musdb targets (not ``residual``)."""
    return [s for s in sources if s in MUSDB_TARGETS]


def check_scorable(sources: Sequence[str], least: int = 2) -> List[str]:
    """:func:`scorable`, raising :class:`EvaluationError` when fewer than ``least`` are musdb targets.

    BSSEval v4 needs the estimates of at least two targets of a track; the whole-track metrics one.
    """
    names = scorable(sources)
    if len(names) < least and least <= 1:
        raise EvaluationError(f"no musdb target to score ({', '.join(MUSDB_TARGETS[:5])}); got: "
                              f"{', '.join(sources) or 'none'}")
    if len(names) < least:
        raise EvaluationError(
            "museval needs estimates of at least two musdb targets "
            f"({', '.join(MUSDB_TARGETS[:5])}); got: {', '.join(sources) or 'none'}"
        )
    return names


def check_target_names(targets: Sequence[str], least: int = 2) -> List[str]:
    """The estimates named to be scored, checked: every one a musdb target, at least two.

    Raises:
        EvaluationError: an unknown name (the message lists the musdb targets), or fewer than two.
    """
    unknown = [t for t in targets if t not in MUSDB_TARGETS]
    if unknown:
        raise EvaluationError(
            f"cannot score {', '.join(repr(t) for t in unknown)}: not a musdb target "
            f"(musdb targets: {', '.join(MUSDB_TARGETS[:5])})"
        )
    return check_scorable(list(dict.fromkeys(targets)), least)


# ---------------------------------------------------------------------------
# tracks


def list_tracks(
    root: PathLike,
    subset: str = "test",
    is_wav: bool = False,
    names: Optional[Sequence[str]] = None,
) -> List[Any]:
    """The musdb tracks of a subset, sorted by name.

    Args:
        root: MUSDB18 root, holding ``<subset>/<track>.stem.mp4`` or, with
            ``is_wav``, ``<subset>/<track>/{mixture,vocals,...}.wav``.
        names: keep only these tracks (all of them must exist).

    Raises:
        EvaluationError: missing root, no tracks, unreadable tracks, unknown
            names (the message lists the tracks of the subset).
    """
    import musdb

    root = Path(root)
    if not root.is_dir():
        raise EvaluationError(f"{root}: MUSDB root folder does not exist")
    try:
        db = musdb.DB(root=str(root), is_wav=is_wav, subsets=subset)
    except Exception as err:  # musdb and stempeg raise assorted types (ffprobe missing, bad files)
        raise EvaluationError(f"{root}: cannot list the MUSDB tracks ({first_line(err)})") from None
    tracks = list(db.tracks)
    if not tracks:
        raise EvaluationError(_no_tracks_message(root, subset, is_wav))
    for track in tracks:
        if track.rate is None:
            raise EvaluationError(f"{track.path}: missing mixture file")
    if names:
        by_name = {t.name: t for t in tracks}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise EvaluationError(
                f"no track named {', '.join(repr(n) for n in unknown)} in {root / subset} "
                f"(tracks: {', '.join(repr(n) for n in by_name)})"
            )
        tracks = [by_name[n] for n in dict.fromkeys(names)]
    return tracks


def _no_tracks_message(root: Path, subset: str, is_wav: bool) -> str:
    folder = root / subset
    if not folder.is_dir():
        return f"{root}: no '{subset}' folder, not a MUSDB root"
    if is_wav:
        hint = " (found .stem.mp4 files: drop --is-wav)" if any(folder.glob("*.stem.mp4")) else ""
        return f"{folder}: no tracks (expected <track>/mixture.wav folders){hint}"
    hint = " (found track folders: add --is-wav)" if any(p.is_dir() for p in folder.iterdir()) else ""
    return f"{folder}: no tracks (expected <track>.stem.mp4 files){hint}"


def share_tracks(tracks: Sequence[Any], shard: Shard) -> List[Any]:
    """The musdb tracks of ``shard``, balanced by duration (:func:`openunmix.separation.sharding.share_of`), in list order."""
    return [tracks[i] for i in share_of([float(getattr(t, "duration", 0.0) or 0.0) for t in tracks], shard)]

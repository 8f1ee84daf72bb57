"""Reading scores back and aggregating them as in SiSEC 2018.

Per track, the median over frames (NaN frames ignored); then, per target and
metric, the median over tracks; and the mean over tracks of the whole-track
SDR.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..utils import PathLike
from .scoring import METRICS, Frames, frames_from_museval
from .tracks import MUSDB_TARGETS, EvaluationError, global_sdr_path, is_scored, scores_path

Summary = Dict[str, Dict[str, float]]  # target -> column -> value

COLUMNS: Tuple[str, ...] = METRICS + ("global_SDR", "tracks")


# ---------------------------------------------------------------------------
# reading results back


def read_track_scores(path: PathLike) -> Frames:
    """Per-frame scores of one track from a museval json file."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:
        raise EvaluationError(f"{path}: not readable json ({err})") from None
    try:
        return frames_from_museval(data)
    except EvaluationError as err:
        raise EvaluationError(f"{path}: {err}") from None


def read_global_sdr(path: PathLike) -> Dict[str, float]:
    """``{target: dB}`` from a whole-track SDR file."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
        return {str(k): float(v) for k, v in data["global_sdr"].items()}
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise EvaluationError(f"{path}: not a whole-track SDR file ({type(err).__name__}: {err})") from None


def load_results(
    evaldir: PathLike, subset: str, tracks: Sequence[str]
) -> Tuple[Dict[str, Frames], Dict[str, Dict[str, float]]]:
    """Per-frame scores and whole-track SDRs of the named tracks that have results.

    Returns:
        ``({track: frames}, {track: {target: dB}})``; tracks without result
        files are left out.
    """
    frames: Dict[str, Frames] = {}
    glob: Dict[str, Dict[str, float]] = {}
    for name in tracks:
        if not is_scored(evaldir, subset, name):
            continue
        frames[name] = read_track_scores(scores_path(evaldir, subset, name))
        glob[name] = read_global_sdr(global_sdr_path(evaldir, subset, name))
    return frames, glob


# ---------------------------------------------------------------------------
# aggregation (pure)


def nanmedian(values: Sequence[float]) -> float:
    """Median of the values that are not NaN; NaN when there are none."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    return float(np.median(x)) if x.size else math.nan


def track_medians(frames: Mapping[str, Mapping[str, Sequence[float]]]) -> Dict[str, Dict[str, float]]:
    """Per target and metric, the median over the frames of one track, NaN frames ignored."""
    return {target: {m: nanmedian(values[m]) for m in METRICS} for target, values in frames.items()}


def order_targets(targets: Sequence[str]) -> List[str]:
    """musdb targets in musdb's order, then any others alphabetically."""
    known = [t for t in MUSDB_TARGETS if t in targets]
    return known + sorted(set(targets) - set(known))


def summarize(
    frames_by_track: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    global_by_track: Mapping[str, Mapping[str, float]],
) -> Summary:
    """Aggregate as in SiSEC 2018, plus the mean whole-track ("MDX") SDR.

    Args:
        frames_by_track: ``{track: {target: {metric: values per frame}}}``.
        global_by_track: ``{track: {target: whole-track SDR}}``.

    Returns:
        ``{target: {"SDR", "SIR", "ISR", "SAR": median over tracks of the
        per-track median over frames (NaN ignored at both levels),
        "global_SDR": mean over tracks, "tracks": number of tracks}}``.
    """
    medians = {track: track_medians(frames) for track, frames in frames_by_track.items()}
    found = {t for m in medians.values() for t in m} | {t for g in global_by_track.values() for t in g}
    targets = order_targets(sorted(found))
    summary: Summary = {}
    for target in targets:
        row: Dict[str, float] = {
            m: nanmedian([per[target][m] for per in medians.values() if target in per]) for m in METRICS
        }
        sdrs = [g[target] for g in global_by_track.values() if target in g]
        row["global_SDR"] = float(np.mean(sdrs)) if sdrs else math.nan
        row["tracks"] = sum(1 for per in medians.values() if target in per)
        summary[target] = row
    return summary

"""Reading scores back and aggregating them as in SiSEC 2018.

Per track, the median over frames (NaN frames ignored); then, per target and
metric, the median over tracks (BSSEval); and the mean over tracks of the
whole-track metrics (uSDR, SI-SDR), as the challenges average songs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..utils import PathLike
from .metrics import BSSEVAL, COLUMN, DEFAULT_METRICS, SISDR, USDR
from .scoring import METRICS, Frames, frames_from_museval
from .tracks import MUSDB_TARGETS, EvaluationError, global_sdr_path, is_scored, scores_path

Summary = Dict[str, Dict[str, float]]  # target -> column -> value

USDR_COLUMN, SISDR_COLUMN = COLUMN[USDR], COLUMN[SISDR]
COLUMNS: Tuple[str, ...] = METRICS + (USDR_COLUMN, SISDR_COLUMN, "tracks")

Whole = Dict[str, Dict[str, float]]  # metric (usdr, sisdr) -> target -> dB


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


def read_whole_track(path: PathLike) -> Whole:
    """``{metric: {target: dB}}`` from a whole-track metrics file (``usdr``, ``sisdr``; a file written before
    SI-SDR holds ``global_sdr`` only, read as the uSDR)."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
        found: Whole = {}
        for key, metric in (("global_sdr", USDR), ("usdr", USDR), ("sisdr", SISDR)):
            if key in data:
                found[metric] = {str(k): float(v) for k, v in data[key].items()}
        if not found:
            raise KeyError("usdr")
        return found
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise EvaluationError(f"{path}: not a whole-track SDR file ({type(err).__name__}: {err})") from None


def read_global_sdr(path: PathLike) -> Dict[str, float]:
    """``{target: dB}``: the uSDR of a whole-track metrics file."""
    found = read_whole_track(path)
    if USDR not in found:
        raise EvaluationError(f"{path}: not a whole-track SDR file (no uSDR)")
    return found[USDR]


def load_results(
    evaldir: PathLike, subset: str, tracks: Sequence[str], metrics: Sequence[str] = DEFAULT_METRICS,
) -> Tuple[Dict[str, Frames], Dict[str, Whole]]:
    """Per-frame scores (with ``bsseval``) and whole-track metrics of the named tracks that have results.

    Returns:
        ``({track: frames}, {track: {metric: {target: dB}}})``, each metric
        only where it is among ``metrics``; tracks without result files for
        all of ``metrics`` are left out.
    """
    frames: Dict[str, Frames] = {}
    whole: Dict[str, Whole] = {}
    for name in tracks:
        if not is_scored(evaldir, subset, name, metrics):
            continue
        if BSSEVAL in metrics:
            frames[name] = read_track_scores(scores_path(evaldir, subset, name))
        found = read_whole_track(global_sdr_path(evaldir, subset, name))
        whole[name] = {m: v for m, v in found.items() if m in metrics}
    return frames, whole


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
    sisdr_by_track: Optional[Mapping[str, Mapping[str, float]]] = None,
) -> Summary:
    """Aggregate as in SiSEC 2018, plus the mean over tracks of the whole-track metrics.

    Args:
        frames_by_track: ``{track: {target: {metric: values per frame}}}`` (empty without BSSEval).
        global_by_track: ``{track: {target: uSDR}}`` (empty without uSDR).
        sisdr_by_track: ``{track: {target: SI-SDR}}`` (None or empty without SI-SDR).

    Returns:
        ``{target: {"SDR", "SIR", "ISR", "SAR": median over tracks of the
        per-track median over frames (NaN ignored at both levels),
        "uSDR", "SI-SDR": mean over tracks, "tracks": number of tracks}}``;
        a row holds the BSSEval metrics only when there are frames, and each
        whole-track metric only when given.
    """
    medians = {track: track_medians(frames) for track, frames in frames_by_track.items()}
    whole = {USDR_COLUMN: global_by_track, SISDR_COLUMN: sisdr_by_track or {}}
    found = {t for m in medians.values() for t in m}
    for by_track in whole.values():
        found |= {t for g in by_track.values() for t in g}
    targets = order_targets(sorted(found))
    summary: Summary = {}
    for target in targets:
        row: Dict[str, float] = {}
        if medians:
            row.update({m: nanmedian([per[target][m] for per in medians.values() if target in per]) for m in METRICS})
        counts = [sum(1 for per in medians.values() if target in per)]
        for column, by_track in whole.items():
            if by_track:
                scores = [g[target] for g in by_track.values() if target in g]
                row[column] = float(np.mean(scores)) if scores else math.nan
                counts.append(len(scores))
        row["tracks"] = max(counts)
        summary[target] = row
    return summary


def summarize_results(frames: Mapping[str, Frames], whole: Mapping[str, Whole]) -> Summary:
    """:func:`summarize` of what :func:`load_results` returns."""
    usdr = {t: w[USDR] for t, w in whole.items() if USDR in w}
    sisdr = {t: w[SISDR] for t, w in whole.items() if SISDR in w}
    return summarize(frames, usdr, sisdr)

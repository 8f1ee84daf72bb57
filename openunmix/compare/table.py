"""The SiSEC 2018 table: per track the median over frames, then per method, target and metric the
median over tracks, with its bootstrap confidence interval.

The per-track medians are :func:`openunmix.evaluation.track_medians` (NaN
frames ignored) and the median over tracks is
:func:`openunmix.evaluation.nanmedian`, the very functions ``eval.py``
aggregates with, so that a method's row here equals its row in ``eval.py``'s
``results.csv`` (and museval's own ``EvalStore`` aggregate).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..evaluation.aggregate import nanmedian, order_targets, track_medians
from ..evaluation.scoring import METRICS
from .bootstrap import BootstrapSettings, median_ci
from .scores import MethodScores

GLOBAL = "uSDR"  # the whole-track (challenge) SDR, a metric of the table where the score folders have it
SI_SDR = "SI-SDR"  # the whole-track SI-SDR, likewise
ALL_METRICS = METRICS + (GLOBAL, SI_SDR)

# {method: {target: {metric: {track: per-track score}}}}
TrackTable = Dict[str, Dict[str, Dict[str, Dict[str, float]]]]


@dataclass(frozen=True)
class Row:
    """One method, target and metric of the table.

    Attributes:
        median: median over tracks of the per-track medians over frames.
        ci_low, ci_high: its bootstrap confidence interval (NaN with fewer than 2 tracks).
        tracks: the number of tracks the median is taken over (a track whose
            frames are all NaN for this metric, e.g. a silent reference, has
            no score and is not counted, as in museval).
        mean: mean over the same tracks (``eval.py`` reports the whole-track
            SDR as this mean).
    """

    method: str
    target: str
    metric: str
    median: float
    ci_low: float
    ci_high: float
    tracks: int
    mean: float

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def track_table(methods: Sequence[MethodScores]) -> TrackTable:
    """Per method, target and metric, the score of each track: the median over its frames.

    ``uSDR`` and ``SI-SDR`` hold the whole-track metrics of the tracks that have them.
    """
    table: TrackTable = {}
    for method in methods:
        per: Dict[str, Dict[str, Dict[str, float]]] = {}
        for track, scores in method.tracks.items():
            for target, medians in track_medians(scores.frames).items():
                for metric, value in medians.items():
                    per.setdefault(target, {}).setdefault(metric, {})[track] = value
        for metric, by_track in ((GLOBAL, method.global_sdr), (SI_SDR, method.sisdr)):
            for track, targets in by_track.items():
                for target, value in targets.items():
                    per.setdefault(target, {}).setdefault(metric, {})[track] = float(value)
        table[method.name] = per
    return table


def table_targets(table: TrackTable) -> List[str]:
    """The targets of any method, musdb's first in musdb's order."""
    return order_targets(sorted({t for per in table.values() for t in per}))


def table_metrics(table: TrackTable) -> List[str]:
    """The metrics present in the table, in the order of :data:`ALL_METRICS`."""
    found = {m for per in table.values() for by_metric in per.values() for m in by_metric}
    return [m for m in ALL_METRICS if m in found]


def values(table: TrackTable, method: str, target: str, metric: str,
           tracks: Optional[Sequence[str]] = None) -> np.ndarray:
    """The per-track scores of one method, target and metric.

    Returns:
        ``(tracks,)``: in the order of ``tracks`` (NaN where a track has no
        score), or of the method's own tracks sorted by name when None.
    """
    scores = table.get(method, {}).get(target, {}).get(metric, {})
    names = sorted(scores) if tracks is None else tracks
    return np.array([scores.get(t, math.nan) for t in names], dtype=np.float64)


def aggregate(table: TrackTable, bootstrap: BootstrapSettings = BootstrapSettings()) -> List[Row]:
    """The SiSEC table: one row per method, target and metric that has scores.

    Rows are ordered by method (as in ``table``), target (musdb's order) and
    metric (SDR, SIR, ISR, SAR, uSDR, SI-SDR).
    """
    rows: List[Row] = []
    targets = table_targets(table)
    for method, per in table.items():
        for target in targets:
            for metric in ALL_METRICS:
                if metric not in per.get(target, {}):
                    continue
                x = values(table, method, target, metric)
                finite = x[~np.isnan(x)]
                low, high = median_ci(finite, bootstrap)
                rows.append(Row(method, target, metric, nanmedian(finite), low, high, int(finite.size),
                                float(np.mean(finite)) if finite.size else math.nan))
    return rows


def method_order(table: TrackTable, target: str = "vocals", metric: str = "SDR") -> List[str]:
    """The methods sorted by their median ``target`` ``metric``, best first, as in the SiSEC paper.

    When no method has ``target``, the first target of the table is used;
    methods without a score come last, in their given order.
    """
    targets = table_targets(table)
    if targets and not any(target in per for per in table.values()):
        target = targets[0]
    medians = {m: nanmedian(values(table, m, target, metric)) for m in table}
    names = list(table)
    return sorted(names, key=lambda m: (math.isnan(medians[m]), -medians[m] if not math.isnan(medians[m]) else 0.0,
                                        names.index(m)))


def row_lookup(rows: Sequence[Row]) -> Mapping[tuple, Row]:
    """``{(method, target, metric): row}``."""
    return {(r.method, r.target, r.metric): r for r in rows}


# what --metric also accepts for the table's metrics (eval.py's --metrics names, any case)
METRIC_ALIASES = {"usdr": GLOBAL, "global_sdr": GLOBAL, "sisdr": SI_SDR, "si-sdr": SI_SDR, "csdr": "SDR"}


def resolve_metric(name: Optional[str], table: TrackTable) -> str:
    """The metric of the table that ``name`` means (any case; ``usdr``, ``sisdr``, ``csdr`` too); None: the SDR,
    or the first metric of the table when it has no SDR.

    Raises:
        ValueError: ``name`` is not a metric of the table (the message lists those it has).
    """
    present = table_metrics(table)
    if name is None:
        return "SDR" if "SDR" in present or not present else present[0]
    wanted = METRIC_ALIASES.get(name.lower(), next((m for m in ALL_METRICS if m.lower() == name.lower()), name))
    if wanted not in present:
        raise ValueError(f"--metric {name}: not a metric of these scores (they have: {', '.join(present) or 'none'})")
    return wanted

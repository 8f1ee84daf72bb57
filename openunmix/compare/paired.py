"""Paired comparisons of methods on the tracks they share.

For each target and metric, and each pair of methods that have the target:

* the median over tracks of the per-track difference (A - B);
* how many tracks each method wins (ties counted apart);
* the Wilcoxon signed-rank test of the differences (``scipy.stats.wilcoxon``),
  and its p-value Holm-corrected over the pairs of that target and metric;
* the p-value of Conover's post-hoc test after Kruskal-Wallis (Conover and
  Iman, 1979), Holm-corrected: the test the SiSEC 2018 paper published as
  heat maps. Like SiSEC it treats the methods' per-track scores as
  independent groups; the Wilcoxon test is the one that uses the pairing.

Only tracks that every method has, and where every method of the target has
a score, enter the tests (the caller names the others).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .table import TrackTable, table_metrics, table_targets, values


@dataclass(frozen=True)
class PairedSettings:
    """How the pairwise verdicts are reached.

    Attributes:
        alpha: the significance level the Holm-corrected p-values are compared with.
        verdict_test: ``"wilcoxon"`` (paired, the default) or ``"conover"``.
    """

    alpha: float = 0.05
    verdict_test: str = "wilcoxon"

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if self.verdict_test not in ("wilcoxon", "conover"):
            raise ValueError(f"verdict_test must be 'wilcoxon' or 'conover', got {self.verdict_test!r}")


@dataclass(frozen=True)
class Pair:
    """The comparison of methods ``a`` and ``b`` on one target and metric.

    Attributes:
        tracks: the tracks compared.
        median_diff: median over those tracks of ``a - b``.
        wins_a, wins_b, ties: tracks where ``a`` scores higher, lower, the same.
        wilcoxon_p: two-sided Wilcoxon signed-rank p-value (NaN when every difference is 0).
        wilcoxon_p_holm: ``wilcoxon_p`` Holm-corrected over the pairs of the target and metric.
        conover_p_holm: Conover's post-hoc p-value, Holm-corrected (NaN with fewer than 2 tracks).
        better: the method significantly better (``a`` or ``b``), or ``""``.
    """

    a: str
    b: str
    target: str
    metric: str
    tracks: int
    median_diff: float
    wins_a: int
    wins_b: int
    ties: int
    wilcoxon_p: float
    wilcoxon_p_holm: float
    conover_p_holm: float
    better: str = ""

    def verdict(self) -> str:
        """``"A > B"``, ``"B > A"`` or ``"no significant difference"``."""
        if not self.better:
            return "no significant difference"
        other = self.b if self.better == self.a else self.a
        return f"{self.better} > {other}"

    def as_dict(self) -> Dict[str, object]:
        return {**asdict(self), "verdict": self.verdict()}


@dataclass(frozen=True)
class PairedResult:
    """All the paired comparisons.

    Attributes:
        pairs: one :class:`Pair` per target, metric and pair of methods.
        conover: ``{target: {metric: (methods, (k, k) Holm-corrected p-values)}}``,
            the matrices behind the heat maps (diagonal NaN).
        left_out: ``{target: {metric: tracks}}``: shared tracks left out of that
            target's tests because some method has no score there.
    """

    pairs: List[Pair]
    conover: Dict[str, Dict[str, Tuple[List[str], np.ndarray]]]
    left_out: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# the tests


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down correction of ``(m,)`` p-values for ``m`` tests; NaN stays NaN and is not counted.

    Returns:
        ``(m,)`` corrected p-values, each at most 1.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``(tracks,)`` paired differences.

    Zero differences are dropped (Wilcoxon's convention); NaN when none is left.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[d != 0]
    if d.size == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: scipy warns that the exact test is coarse
        return float(stats.wilcoxon(d).pvalue)


def signed_rank_direction(differences: np.ndarray) -> int:
    """The direction of ``(tracks,)`` paired differences: +1 when the positive ones outrank the negative
    ones (Wilcoxon's signed ranks, zeros dropped), -1 the other way, 0 when even."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[d != 0]
    if d.size == 0:
        return 0
    ranks = stats.rankdata(np.abs(d))
    balance = float(np.sum(ranks[d > 0]) - np.sum(ranks[d < 0]))
    return int(np.sign(balance))


def conover_iman(groups: Sequence[np.ndarray]) -> np.ndarray:
    """Conover's post-hoc test after Kruskal-Wallis, uncorrected.

    Args:
        groups: ``k`` arrays of scores, ``(n_i,)`` each (NaN left out).

    Returns:
        ``(k, k)`` two-sided p-values (diagonal NaN). All values ranked
        together (ties get their mean rank); for groups ``i, j``::

            t = |mean rank_i - mean rank_j| / sqrt(S² (N-1-H)/(N-k) (1/n_i + 1/n_j))

        with ``S² = (sum of squared ranks - N (N+1)²/4) / (N-1)``, ``H`` the
        tie-corrected Kruskal-Wallis statistic and ``N-k`` degrees of freedom
        of Student's t. NaN where it is undefined (all values equal, or
        ``N <= k``).
    """
    from scipy import stats

    data = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    data = [g[~np.isnan(g)] for g in data]
    k = len(data)
    out = np.full((k, k), math.nan)
    sizes = np.array([g.size for g in data], dtype=np.float64)
    n = float(sizes.sum())
    if k < 2 or np.any(sizes == 0) or n <= k:
        return out
    ranks = stats.rankdata(np.concatenate(data))
    s2 = (np.sum(ranks ** 2) - n * (n + 1) ** 2 / 4.0) / (n - 1)
    bounds = np.cumsum(sizes).astype(int)
    mean_ranks = np.array([r.mean() for r in np.split(ranks, bounds[:-1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            h = float(stats.kruskal(*data).statistic)
        except ValueError:  # every value the same
            return out
    if not (s2 > 0 and math.isfinite(h)):
        return out
    dof = n - k
    for i, j in combinations(range(k), 2):
        scale = math.sqrt(s2 * (n - 1 - h) / dof * (1.0 / sizes[i] + 1.0 / sizes[j]))
        t = abs(mean_ranks[i] - mean_ranks[j]) / scale if scale > 0 else math.inf
        out[i, j] = out[j, i] = float(2.0 * stats.t.sf(t, dof))
    return out


def conover_holm(groups: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`conover_iman` with Holm's correction over the ``k (k-1) / 2`` pairs; ``(k, k)``, diagonal NaN."""
    p = conover_iman(groups)
    k = p.shape[0]
    iu = np.triu_indices(k, 1)
    out = np.full_like(p, math.nan)
    out[iu] = holm(p[iu])
    out.T[iu] = out[iu]
    return out


# ---------------------------------------------------------------------------
# every pair of methods


def compare_pairs(table: TrackTable, methods: Sequence[str], tracks: Sequence[str],
                  settings: PairedSettings = PairedSettings()) -> PairedResult:
    """Compare every pair of ``methods`` on each target and metric, on the given shared ``tracks``.

    For a target, the methods are those with a score for it on some of the
    ``tracks``; the tracks are those where each of them has a score (the
    others are listed in :attr:`PairedResult.left_out`).
    """
    pairs: List[Pair] = []
    conover: Dict[str, Dict[str, Tuple[List[str], np.ndarray]]] = {}
    left_out: Dict[str, Dict[str, List[str]]] = {}
    metrics = table_metrics(table)
    for target in table_targets(table):
        for metric in metrics:
            scores = {m: values(table, m, target, metric, tracks) for m in methods}
            names = [m for m in methods if np.any(~np.isnan(scores[m]))]
            if len(names) < 2:
                continue
            keep = np.all([~np.isnan(scores[m]) for m in names], axis=0)
            dropped = [t for t, k in zip(tracks, keep) if not k]
            if dropped:
                left_out.setdefault(target, {})[metric] = dropped
            matrix = np.stack([scores[m][keep] for m in names])  # (methods, tracks)
            conover_p = conover_holm(list(matrix))
            conover.setdefault(target, {})[metric] = (names, conover_p)
            index = list(combinations(range(len(names)), 2))
            raw = [wilcoxon_p(matrix[i] - matrix[j]) for i, j in index]
            corrected = holm(raw)
            for (i, j), p, p_holm in zip(index, raw, corrected):
                d = matrix[i] - matrix[j]
                pair = Pair(
                    names[i], names[j], target, metric, int(d.size),
                    float(np.median(d)) if d.size else math.nan,
                    int(np.sum(d > 0)), int(np.sum(d < 0)), int(np.sum(d == 0)),
                    p, float(p_holm), float(conover_p[i, j]),
                )
                pairs.append(_with_verdict(pair, d, settings))
    return PairedResult(pairs, conover, left_out)


def _with_verdict(pair: Pair, differences: np.ndarray, settings: PairedSettings) -> Pair:
    p = pair.wilcoxon_p_holm if settings.verdict_test == "wilcoxon" else pair.conover_p_holm
    if math.isnan(p) or p >= settings.alpha:
        return pair
    direction = signed_rank_direction(differences) or int(np.sign(pair.median_diff))
    if direction == 0:
        return pair
    better = pair.a if direction > 0 else pair.b
    return Pair(**{**asdict(pair), "better": better})

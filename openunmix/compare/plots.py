"""The plots of a comparison, as matplotlib Figures (no pyplot: no global state, no backend switch).

* :func:`boxplot_figure` -- per target and metric, a box per method of its
  per-track scores, methods sorted by median vocals SDR (as in the SiSEC 2018 paper);
* :func:`pairwise_figure` -- per target, the heat map of Conover's
  Holm-corrected p-values between methods (as in the SiSEC 2018 paper);
* :func:`track_figure` -- per target, a method x track heat map of the per-track score.

:func:`figure_png` renders any of them to PNG bytes.
"""

from __future__ import annotations

import io
import math
from typing import List, Sequence

import numpy as np

from ..evaluation.scoring import METRICS
from .run import Comparison
from .table import table_targets, values

# significance classes of the pairwise heat map: p < 0.001, < 0.01, < 0.05, not significant
P_BOUNDS = (0.0, 0.001, 0.01, 0.05, 1.0)
P_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7")
P_LABELS = ("p < 0.001", "p < 0.01", "p < 0.05", "n.s.")


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _targets(comparison: Comparison) -> List[str]:
    return table_targets(comparison.table)


def boxplot_figure(comparison: Comparison, metrics: Sequence[str] = METRICS):
    """Box plots of the per-track scores: one row of panels per target, one column per metric.

    Each panel has a horizontal box per method (the best by median vocals
    SDR at the top); a method without the target has an empty line.
    """
    from matplotlib.figure import Figure

    targets = _targets(comparison)
    order = comparison.order
    k = len(order)
    fig = Figure(figsize=(3.1 * len(metrics) + 1.2, (0.32 * k + 0.9) * len(targets) + 0.6))
    axes = fig.subplots(len(targets), len(metrics), squeeze=False, sharey=True)
    for row, target in enumerate(targets):
        for col, metric in enumerate(metrics):
            ax = axes[row][col]
            data = []
            for name in reversed(order):  # boxplot draws bottom-up: best on top
                x = values(comparison.table, name, target, metric)
                data.append(x[np.isfinite(x)])
            positions = [i + 1 for i, d in enumerate(data) if d.size]
            if positions:
                _horizontal_boxplot(ax, [d for d in data if d.size], positions)
            ax.set_yticks(range(1, k + 1), list(reversed(order)))
            ax.set_ylim(0.4, k + 0.6)
            ax.grid(axis="x", alpha=0.3)
            if row == 0:
                ax.set_title(metric)
            if col == 0:
                ax.set_ylabel(target)
            if row == len(targets) - 1:
                ax.set_xlabel("dB (per track)")
    fig.suptitle("per-track scores (boxes: quartiles, whiskers: 1.5 IQR, outliers not drawn), "
                 f"methods sorted by median vocals {comparison.metric}")
    fig.tight_layout()
    return fig


def _horizontal_boxplot(ax, data: List[np.ndarray], positions: List[int]) -> None:
    style = dict(positions=positions, widths=0.6, showfliers=False, medianprops={"color": "#b2182b"})
    try:
        ax.boxplot(data, orientation="horizontal", **style)  # matplotlib >= 3.10
    except TypeError:
        ax.boxplot(data, vert=False, **style)


def pairwise_figure(comparison: Comparison, metric: str = "SDR"):
    """Heat maps of the Holm-corrected p-values of Conover's test between methods, one per target."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    targets = [t for t in _targets(comparison) if metric in comparison.paired.conover.get(t, {})]
    size = max(2.6, 0.55 * len(comparison.order) + 1.4)
    fig = Figure(figsize=(max(size * max(len(targets), 1) + 0.4, 7.5), size + 0.9))
    if not targets:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "no paired tests (one method, or fewer than two tracks)", ha="center", va="center")
        return fig
    axes = fig.subplots(1, len(targets), squeeze=False)[0]
    cmap = ListedColormap(P_COLOURS).with_extremes(bad="#bdbdbd")
    norm = BoundaryNorm(P_BOUNDS, cmap.N)
    for ax, target in zip(axes, targets):
        names, p = comparison.paired.conover[target][metric]
        order = [n for n in comparison.order if n in names]
        index = [names.index(n) for n in order]
        matrix = p[np.ix_(index, index)]
        ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, norm=norm)
        ax.set_xticks(range(len(order)), order, rotation=90)
        ax.set_yticks(range(len(order)), order)
        if len(order) <= 10:
            for i in range(len(order)):
                for j in range(len(order)):
                    if i != j and not math.isnan(matrix[i, j]):
                        ax.text(j, i, _p_text(matrix[i, j]), ha="center", va="center", fontsize=7)
        ax.set_title(f"{target} {metric}")
    fig.legend(handles=[Patch(color=c, label=label) for c, label in zip(P_COLOURS, P_LABELS)],
               loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"Conover post-hoc test on the per-track {metric}, Holm-corrected p-values", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _p_text(p: float) -> str:
    return "<.001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def track_figure(comparison: Comparison, metric: str = "SDR"):
    """Heat maps of the per-track score, methods x tracks, one panel per target.

    Tracks that only some methods have are marked ``*``; a missing score is grey.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    targets = _targets(comparison)
    order = comparison.order
    tracks = sorted(set(comparison.common) | set(comparison.partial))
    labels = [_short(t) + (" *" if t in comparison.partial else "") for t in tracks]
    width = min(max(6.0, 0.22 * len(tracks) + 3.0), 40.0)
    height_each = 0.3 * len(order) + 0.8
    fig = Figure(figsize=(width, height_each * len(targets) + 2.2))
    axes = fig.subplots(len(targets), 1, squeeze=False)[:, 0]
    for i, (ax, target) in enumerate(zip(axes, targets)):
        matrix = np.stack([values(comparison.table, name, target, metric, tracks) for name in order])
        finite = matrix[np.isfinite(matrix)]
        low, high = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        image = ax.imshow(np.ma.masked_invalid(matrix), aspect="auto", cmap=colormaps["viridis"].with_extremes(
            bad="#d9d9d9"), interpolation="nearest", vmin=low, vmax=max(high, low + 1e-6))
        ax.set_yticks(range(len(order)), order)
        ax.set_ylabel(target)
        if i == len(targets) - 1:
            ax.set_xticks(range(len(tracks)), labels, rotation=90, fontsize=6)
        else:
            ax.set_xticks([])
        fig.colorbar(image, ax=ax, label=f"{metric} (dB)", pad=0.01, extend="both")
    fig.suptitle(f"per-track {metric} (BSSEval: median over frames; colours clipped to the 2-98th percentile); "
                 "* only some methods have the track")
    fig.tight_layout()
    return fig


def _short(text: str, length: int = 28) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"

"""A comparison as text, CSV, JSON and PNG files.

``OUTDIR`` (``compare/`` by default) receives:

* ``results.csv`` -- one row per method, target and metric:
  ``method,target,metric,median,ci_low,ci_high,tracks``;
* ``results.json`` -- the same rows (with the mean), the methods, the
  method order, the shared and partial tracks, the pairs and the settings;
* ``pairwise.csv`` -- one row per pair of methods, target and metric: the
  median difference, the wins, the p-values of both tests and the verdict;
* ``boxplots.png``, ``pairwise.png``, ``tracks.png`` (see :mod:`.plots`).

Everything is computed and rendered before the first file is written, and
each file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..utils import PathLike, atomic_path, make_output_folder, remove_stale_temporaries
from .run import Comparison
from .table import row_lookup, table_metrics, table_targets

RESULT_COLUMNS = ("method", "target", "metric", "median", "ci_low", "ci_high", "tracks")
PAIR_COLUMNS = ("method_a", "method_b", "target", "metric", "tracks", "median_diff", "wins_a", "wins_b", "ties",
                "wilcoxon_p", "wilcoxon_p_holm", "conover_p_holm", "verdict")
PLOTS = ("boxplots.png", "pairwise.png", "tracks.png")


# ---------------------------------------------------------------------------
# text


def format_table(comparison: Comparison) -> str:
    """The SiSEC table as text: per target, one line per method (best first by the chosen metric).

    The chosen metric (SDR by default) with its confidence interval, then the
    other metrics the scores have (SIR, ISR, SAR, uSDR, SI-SDR), and the number of tracks.
    """
    rows = row_lookup(comparison.rows)
    targets = table_targets(comparison.table)
    width = max(8, *(len(m) + 2 for m in comparison.order), *(len(t) for t in targets)) + 2
    level = f"{comparison.settings.bootstrap.confidence:.0%}"
    lead = comparison.metric
    others = [m for m in table_metrics(comparison.table) if m != lead]
    lines: List[str] = []
    for target in targets:
        head = (f"{target:<{width}}" + f"{lead + ' [' + level + ' CI]':>24}" + "".join(f"{m:>8}" for m in others)
                + f"{'tracks':>8}")
        lines.append(head)
        for method in comparison.order:
            first = rows.get((method, target, lead))
            if first is None:
                continue
            cells = [f"{_num(first.median):>8} [{_num(first.ci_low):>5}, {_num(first.ci_high):>5}]"]
            for metric in others:
                r = rows.get((method, target, metric))
                cells.append(f"{_num(r.median) if r else '-':>8}")
            lines.append(f"  {method:<{width - 2}}" + f"{cells[0]:>24}" + "".join(cells[1:]) + f"{first.tracks:>8d}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def format_pairs(comparison: Comparison, metric: Optional[str] = None) -> str:
    """The paired comparisons of one metric (None: the comparison's) as text, one line per target and pair
    ('' when there are none)."""
    metric = metric or comparison.metric
    pairs = [p for p in comparison.paired.pairs if p.metric == metric]
    if not pairs:
        return ""
    s = comparison.settings.paired
    width = max(6, *(len(m) for m in comparison.order)) + 2
    lines = [f"paired tests on {metric} over the {len(comparison.common)} shared tracks "
             f"(Wilcoxon signed-rank and Conover post-hoc, Holm-corrected; verdict: {s.verdict_test}, alpha {s.alpha:g})",
             f"{'target':<15}{'A':<{width}}{'B':<{width}}{'median A-B':>11}{'wins A:B':>10}{'p Wilcoxon':>12}"
             f"{'p Conover':>11}{'tracks':>8}  verdict"]
    for p in pairs:
        wins = f"{p.wins_a}:{p.wins_b}"
        lines.append(f"{p.target:<15}{p.a:<{width}}{p.b:<{width}}{_num(p.median_diff, '+.2f'):>11}{wins:>10}"
                     f"{_p(p.wilcoxon_p_holm):>12}{_p(p.conover_p_holm):>11}{p.tracks:>8d}  {p.verdict()}")
    return "\n".join(lines)


def notes(comparison: Comparison, limit: int = 5) -> List[str]:
    """One line per thing the reader must know: tracks left out of the paired tests, and why."""
    out: List[str] = []
    partial = comparison.partial
    if partial:
        listed = "; ".join(f"{t!r} (only {', '.join(m)})" for t, m in list(partial.items())[:limit])
        more = f"; and {len(partial) - limit} more (results.json)" if len(partial) > limit else ""
        out.append(f"{len(partial)} track(s) missing from some methods, in the table but left out of the paired "
                   f"tests: {listed}{more}")
    for target, by_metric in comparison.paired.left_out.items():
        for metric, tracks in by_metric.items():
            if metric != comparison.metric:
                continue
            listed = ", ".join(repr(t) for t in tracks[:limit])
            more = f" and {len(tracks) - limit} more" if len(tracks) > limit else ""
            out.append(f"{target} {metric}: {len(tracks)} shared track(s) without a score for some method (all "
                       f"frames NaN), left out of its paired tests: {listed}{more}")
    missing = [(m.name, t) for m in comparison.methods for t in table_targets(comparison.table)
               if t not in comparison.table[m.name]]
    for name, target in missing:
        out.append(f"{name} has no {target} scores")
    return out


def _num(x: float, spec: str = ".2f") -> str:
    return "nan" if x is None or math.isnan(x) else format(x, spec)


def _p(p: float) -> str:
    if math.isnan(p):
        return "nan"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


# ---------------------------------------------------------------------------
# files


def results_csv(comparison: Comparison) -> str:
    """``results.csv``: ``method,target,metric,median,ci_low,ci_high,tracks``, one row per method, target, metric."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in comparison.rows:
        writer.writerow([r.method, r.target, r.metric, _cell(r.median), _cell(r.ci_low), _cell(r.ci_high), r.tracks])
    return out.getvalue()


def pairwise_csv(comparison: Comparison) -> str:
    """``pairwise.csv``: one row per pair of methods, target and metric (see :data:`PAIR_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PAIR_COLUMNS)
    for p in comparison.paired.pairs:
        writer.writerow([p.a, p.b, p.target, p.metric, p.tracks, _cell(p.median_diff), p.wins_a, p.wins_b, p.ties,
                         _cell(p.wilcoxon_p, ".6g"), _cell(p.wilcoxon_p_holm, ".6g"), _cell(p.conover_p_holm, ".6g"),
                         p.verdict()])
    return out.getvalue()


def _cell(x: float, spec: str = ".6f") -> str:
    return "nan" if math.isnan(x) else format(x, spec)


def results_json(comparison: Comparison) -> Dict[str, Any]:
    """``results.json``: everything of the comparison; NaN and infinities are written as null."""
    s = comparison.settings
    return _finite({
        "subset": s.subset,
        "methods": [{"name": m.name, "folder": str(m.folder), "tracks": len(m.tracks)} for m in comparison.methods],
        "order": comparison.order,
        "tracks": {"common": comparison.common, "partial": comparison.partial},
        "metric": comparison.metric,
        "settings": {"confidence": s.bootstrap.confidence, "resamples": s.bootstrap.resamples,
                     "seed": s.bootstrap.seed, "alpha": s.paired.alpha, "verdict_test": s.paired.verdict_test},
        "results": [r.as_dict() for r in comparison.rows],
        "pairwise": [p.as_dict() for p in comparison.paired.pairs],
        "left_out_of_paired_tests": comparison.paired.left_out,
    })


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def render_plots(comparison: Comparison) -> Dict[str, bytes]:
    """``{file name: PNG bytes}`` of the plots (see :data:`PLOTS`)."""
    from .plots import boxplot_figure, figure_png, pairwise_figure, track_figure

    metrics = table_metrics(comparison.table)
    shown = [m for m in metrics if m in ("SDR", "SIR", "ISR", "SAR")] or metrics
    return {
        "boxplots.png": figure_png(boxplot_figure(comparison, shown)),
        "pairwise.png": figure_png(pairwise_figure(comparison, comparison.metric)),
        "tracks.png": figure_png(track_figure(comparison, comparison.metric)),
    }


def write_results(comparison: Comparison, outdir: PathLike, plots: Optional[Dict[str, bytes]] = None) -> List[Path]:
    """Write ``results.csv``, ``results.json``, ``pairwise.csv`` and the plots into ``outdir``.

    Everything is rendered first; then each file is written atomically
    (what killed runs left in ``outdir`` is removed first).

    Returns:
        the paths written.

    Raises:
        OSError: ``outdir`` cannot be created or written (one-line message).
    """
    files: Dict[str, bytes] = {
        "results.csv": results_csv(comparison).encode(),
        "results.json": (json.dumps(results_json(comparison), indent=2) + "\n").encode(),
        "pairwise.csv": pairwise_csv(comparison).encode(),
        **(plots if plots is not None else render_plots(comparison)),
    }
    folder = make_output_folder(outdir)
    remove_stale_temporaries(folder)
    written = []
    for name, data in files.items():
        with atomic_path(folder / name) as tmp:
            Path(tmp).write_bytes(data)
        written.append(folder / name)
    return written


def write_bytes(files: Dict[str, bytes], folder: PathLike) -> None:
    """Write each ``{relative path: bytes}`` under ``folder`` (for folders that are renamed into place whole)."""
    for name, data in files.items():
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

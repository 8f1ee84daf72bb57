"""Reports of an evaluation: text tables, ``results.csv``, the SDR box plot and the listening page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Mapping, Sequence, Tuple

from ..utils import PathLike, atomic_path
from .aggregate import (COLUMNS, SISDR_COLUMN, USDR_COLUMN, Summary, load_results, order_targets,
                        summarize_results, track_medians)
from .metrics import DEFAULT_METRICS
from .tracks import EvaluationError



def summary_columns(summary: Summary) -> List[str]:
    """The metric columns of a summary present in any of its rows, in the order of :data:`COLUMNS`."""
    return [c for c in COLUMNS[:-1] if any(c in row for row in summary.values())]


def lead_column(summary: Summary) -> str:
    """The metric a comparison with the mixture shows: the BSSEval SDR, else the uSDR, else the SI-SDR."""
    columns = summary_columns(summary)
    return next((c for c in ("SDR", USDR_COLUMN, SISDR_COLUMN) if c in columns), "SDR")


def format_table(summary: Summary) -> str:
    """The summary as an aligned text table, one target per line (the metrics it holds)."""
    columns = summary_columns(summary)
    header = f"{'target':<16}" + "".join(f"{c:>8}" for c in columns) + f"{'tracks':>8}"
    lines = [header]
    for target, row in summary.items():
        lines.append(f"{target:<16}" + "".join(f"{row.get(c, math.nan):>8.2f}" for c in columns)
                     + f"{int(row['tracks']):>8d}")
    return "\n".join(lines)


def format_comparison(model: Summary, mixture: Summary) -> str:
    """The model's SDR (BSSEval's median, else the mean uSDR) against the unprocessed mixture's, per target."""
    column = lead_column(model)
    label = "SDR" if column == "SDR" else column
    lines = [f"{'target':<16}{'model ' + label:>13}{'mixture ' + label:>15}{'gain':>8}"]
    for target, row in model.items():
        if target in mixture and column in row and column in mixture[target]:
            floor = mixture[target][column]
            lines.append(f"{target:<16}{row[column]:>13.2f}{floor:>15.2f}{row[column] - floor:>+8.2f}")
    return "\n".join(lines)


def write_csv(path: PathLike, summary: Summary) -> None:
    """Write the summary as csv (``target``, the metrics it holds among ``SDR,SIR,ISR,SAR,uSDR,SI-SDR``,
    ``tracks``), atomically."""
    columns = summary_columns(summary)
    lines = [",".join(["target"] + columns + ["tracks"])]
    for target, row in summary.items():
        cells = [f"{row.get(c, math.nan):.6f}" for c in columns] + [str(int(row["tracks"]))]
        lines.append(",".join([_csv_cell(target)] + cells))
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def plot_sdr(
    path: PathLike, frames_by_track: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], title: str = ""
) -> None:
    """Box plot of the per-track SDR (median over frames) per target, written as png atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state or backend switch

    medians = {track: track_medians(frames) for track, frames in frames_by_track.items()}
    targets = order_targets(sorted({t for m in medians.values() for t in m}))
    data = [[v for v in (per[t]["SDR"] for per in medians.values() if t in per) if not math.isnan(v)] for t in targets]
    fig = Figure(figsize=(1.4 * max(len(targets), 3) + 1.5, 4.0))
    ax = fig.add_subplot()
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(targets) + 1), targets)
    ax.set_ylabel("SDR (dB), median over 1 s frames")
    ax.set_title(title or f"SDR per track ({len(medians)} tracks)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_report(evaldir: PathLike, subset: str, tracks: Sequence[str], title: str = "",
                 metrics: Sequence[str] = DEFAULT_METRICS) -> Tuple[Summary, int]:
    """Aggregate the ``metrics`` of the named tracks found in ``evaldir``; write ``results.csv`` and (with
    BSSEval's frames) ``sdr.png``.

    Returns:
        ``(summary, number of tracks aggregated)``.

    Raises:
        EvaluationError: no results at all, or unreadable result files.
    """
    frames, whole = load_results(evaldir, subset, tracks, metrics)
    if not whole:
        raise EvaluationError(f"{Path(evaldir) / subset}: no scores to aggregate")
    summary = summarize_results(frames, whole)
    write_csv(Path(evaldir) / "results.csv", summary)
    if frames:
        plot_sdr(Path(evaldir) / "sdr.png", frames, title)
    return summary, len(whole)

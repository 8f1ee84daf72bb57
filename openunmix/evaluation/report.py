"""Reports of an evaluation: text tables, ``results.csv``, the SDR box plot and the listening page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence, Tuple

from ..utils import PathLike, atomic_path
from .aggregate import COLUMNS, Summary, load_results, order_targets, summarize, track_medians
from .scoring import METRICS
from .tracks import EvaluationError



def format_table(summary: Summary) -> str:
    """The summary as an aligned text table, one target per line."""
    header = f"{'target':<16}" + "".join(f"{c:>8}" for c in METRICS) + f"{'SDR(glob)':>11}{'tracks':>8}"
    lines = [header]
    for target, row in summary.items():
        lines.append(
            f"{target:<16}" + "".join(f"{row[m]:>8.2f}" for m in METRICS)
            + f"{row['global_SDR']:>11.2f}{int(row['tracks']):>8d}"
        )
    return "\n".join(lines)


def format_comparison(model: Summary, mixture: Summary) -> str:
    """Median SDR of the model against the unprocessed mixture, per target."""
    lines = [f"{'target':<16}{'model SDR':>11}{'mixture SDR':>13}{'gain':>8}"]
    for target, row in model.items():
        if target in mixture:
            floor = mixture[target]["SDR"]
            lines.append(f"{target:<16}{row['SDR']:>11.2f}{floor:>13.2f}{row['SDR'] - floor:>+8.2f}")
    return "\n".join(lines)


def write_csv(path: PathLike, summary: Summary) -> None:
    """Write the summary as csv (``target,SDR,SIR,ISR,SAR,global_SDR,tracks``), atomically."""
    lines = [",".join(("target",) + COLUMNS)]
    for target, row in summary.items():
        cells = [f"{row[c]:.6f}" for c in METRICS + ("global_SDR",)] + [str(int(row["tracks"]))]
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


def write_report(evaldir: PathLike, subset: str, tracks: Sequence[str], title: str = "") -> Tuple[Summary, int]:
    """Aggregate the results of the named tracks found in ``evaldir``; write ``results.csv`` and ``sdr.png``.

    Returns:
        ``(summary, number of tracks aggregated)``.

    Raises:
        EvaluationError: no results at all, or unreadable result files.
    """
    frames, glob = load_results(evaldir, subset, tracks)
    if not frames:
        raise EvaluationError(f"{Path(evaldir) / subset}: no scores to aggregate")
    summary = summarize(frames, glob)
    write_csv(Path(evaldir) / "results.csv", summary)
    plot_sdr(Path(evaldir) / "sdr.png", frames, title)
    return summary, len(frames)

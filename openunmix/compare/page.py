"""The HTML of the listening page: the index (tables and plots) and one page per track.

Pure functions from data to text; :mod:`.report` decides what exists and
writes the files. Every name (methods, tracks, targets) is HTML-escaped;
links use the folder's own safe file names. The pages load only
``report.css`` and ``report.js`` from the report folder: nothing from the
network, so they work over ``file://`` and from any static server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .run import Comparison
from .table import ALL_METRICS, row_lookup, table_targets, values

CURVE_WIDTH = 1000.0  # SVG user units of the SDR curves; the cursor's x is time / duration * CURVE_WIDTH
CURVE_HEIGHT = 100.0


@dataclass(frozen=True)
class Player:
    """One audio element of a track page.

    Attributes:
        id: its DOM id (unique on the page).
        label: what the listener sees (``mixture``, ``reference``, a method's name).
        src: the compressed audio, relative to the page.
        wav: the full-length wav (opt-in), or None.
        spectrogram: its spectrogram PNG, or None.
    """

    id: str
    label: str
    src: str
    wav: Optional[str] = None
    spectrogram: Optional[str] = None


@dataclass(frozen=True)
class Curve:
    """The per-frame SDR of one method on one track and target.

    Attributes:
        times: ``(frames,)`` frame starts in seconds.
        durations: ``(frames,)`` frame lengths in seconds.
        sdr: ``(frames,)`` dB, NaN where museval gives none.
    """

    times: np.ndarray
    durations: np.ndarray
    sdr: np.ndarray


@dataclass(frozen=True)
class TargetSection:
    """What a track page shows for one target.

    Attributes:
        reference: the reference's player, or None.
        estimates: ``[(method, player or None, curve or None, the track's median SDR)]``, best method first
            (NaN without BSSEval's frames).
        whole: ``{method: {"uSDR": dB, "SI-SDR": dB}}``, the whole-track metrics each method has for the track.
    """

    target: str
    reference: Optional[Player]
    estimates: List[Tuple[str, Optional[Player], Optional[Curve], float]] = field(default_factory=list)
    whole: Dict[str, Dict[str, float]] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# shared pieces


def _head(title: str, prefix: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"generator\" content=\"openunmix.compare\">\n"
        f"<title>{escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        f"<link rel=\"stylesheet\" href=\"{prefix}report.css\">\n</head>\n"
    )


def _tail(prefix: str) -> str:
    return f"<script src=\"{prefix}report.js\"></script>\n</body>\n</html>\n"


def _num(x: float, spec: str = ".2f") -> str:
    return "–" if x is None or math.isnan(x) else format(x, spec)


def _sort_key(x: float) -> str:
    return "" if x is None or math.isnan(x) else f"{x:.6g}"


def _p(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "&lt;0.0001" if p < 1e-4 else f"{p:.4f}"


def _th(text: str, numeric: bool = False) -> str:
    kind = ' data-type="number"' if numeric else ""
    return f"<th scope=\"col\"{kind}>{escape(text)}</th>"


# ---------------------------------------------------------------------------
# the index


def index_html(comparison: Comparison, track_links: Sequence[Tuple[str, str]], plots: Sequence[str],
               notes: Sequence[str], title: str = "") -> str:
    """The entry page: the SiSEC table, the paired tests with their verdicts, the plots, the track list.

    Args:
        track_links: ``[(track name, relative link to its page)]``.
        plots: relative paths of the PNG plots.
        notes: one-line remarks (partial tracks, missing targets).
    """
    names = comparison.order
    title = title or f"Comparison of {', '.join(names)}"
    s = comparison.settings
    parts = [_head(title, ""), "<body class=\"index\">\n<header>\n", f"<h1>{escape(title)}</h1>\n",
             f"<p>{len(comparison.methods)} methods, subset <code>{escape(s.subset)}</code>, "
             f"{len(comparison.common)} tracks shared by all"
             f"{f', {len(comparison.partial)} only by some' if comparison.partial else ''}. "
             "Per track the median over frames, then the median over tracks (SiSEC 2018); "
             f"{s.bootstrap.confidence:.0%} bootstrap confidence intervals. Click a column to sort.</p>\n",
             "<ul class=\"methods\">\n"]
    for m in comparison.methods:
        parts.append(f"<li><b>{escape(m.name)}</b> <code>{escape(str(m.folder))}</code> ({len(m.tracks)} tracks)</li>\n")
    parts.append("</ul>\n")
    if notes:
        parts.append("<ul class=\"notes\">\n" + "".join(f"<li>{escape(n)}</li>\n" for n in notes) + "</ul>\n")
    parts.append("</header>\n<main>\n")
    parts.append(_results_table(comparison))
    parts.append(_pairs_table(comparison))
    if plots:
        parts.append("<section id=\"plots\">\n<h2>Plots</h2>\n")
        for plot in plots:
            parts.append(f"<figure><img src=\"{escape(plot)}\" alt=\"{escape(plot)}\" loading=\"lazy\"></figure>\n")
        parts.append("</section>\n")
    parts.append(_tracks_table(comparison, track_links))
    parts.append("</main>\n")
    parts.append(_tail(""))
    return "".join(parts)


def _results_table(comparison: Comparison) -> str:
    rows = row_lookup(comparison.rows)
    lead = comparison.metric
    metrics = [lead] + [m for m in ALL_METRICS if m != lead and any(r.metric == m for r in comparison.rows)]
    level = f"{comparison.settings.bootstrap.confidence:.0%}"
    out = ["<section id=\"results\">\n<h2>Results</h2>\n<table class=\"sortable\" id=\"results-table\">\n<thead><tr>",
           _th("method"), _th("target")]
    out += [_th(f"{m} [{level} CI]" if m == lead else m, numeric=True) for m in metrics]
    out += [_th("tracks", numeric=True), "</tr></thead>\n<tbody>\n"]
    for target in table_targets(comparison.table):
        for method in comparison.order:
            if (method, target, lead) not in rows:
                continue
            cells = [f"<td>{escape(method)}</td>", f"<td>{escape(target)}</td>"]
            for metric in metrics:
                r = rows.get((method, target, metric))
                if r is None:
                    cells.append("<td data-sort=\"\">–</td>")
                    continue
                text = _num(r.median)
                if metric == lead:
                    text += f" <small>[{_num(r.ci_low)}, {_num(r.ci_high)}]</small>"
                cells.append(f"<td data-sort=\"{_sort_key(r.median)}\">{text}</td>")
            cells.append(f"<td>{rows[(method, target, lead)].tracks}</td>")
            out.append(f"<tr data-method=\"{escape(method)}\" data-target=\"{escape(target)}\">" + "".join(cells) + "</tr>\n")
    out.append("</tbody>\n</table>\n</section>\n")
    return "".join(out)


def _pairs_table(comparison: Comparison) -> str:
    pairs = comparison.paired.pairs
    if not pairs:
        return ""
    s = comparison.settings.paired
    out = ["<section id=\"pairwise\">\n<h2>Paired comparisons</h2>\n",
           f"<p>On the {len(comparison.common)} tracks every method has. p-values Holm-corrected over the pairs "
           f"of each target and metric; verdict from the {escape(s.verdict_test)} test at alpha {s.alpha:g}.</p>\n",
           "<table class=\"sortable\" id=\"pairwise-table\">\n<thead><tr>",
           _th("target"), _th("metric"), _th("A"), _th("B"), _th("median A−B", True), _th("wins A", True),
           _th("wins B", True), _th("p Wilcoxon", True), _th("p Conover", True), _th("tracks", True), _th("verdict"),
           "</tr></thead>\n<tbody>\n"]
    for p in pairs:
        verdict_class = "verdict sig" if p.better else "verdict"
        out.append(
            f"<tr><td>{escape(p.target)}</td><td>{escape(p.metric)}</td><td>{escape(p.a)}</td><td>{escape(p.b)}</td>"
            f"<td data-sort=\"{_sort_key(p.median_diff)}\">{_num(p.median_diff, '+.2f')}</td>"
            f"<td>{p.wins_a}</td><td>{p.wins_b}</td>"
            f"<td data-sort=\"{_sort_key(p.wilcoxon_p_holm)}\">{_p(p.wilcoxon_p_holm)}</td>"
            f"<td data-sort=\"{_sort_key(p.conover_p_holm)}\">{_p(p.conover_p_holm)}</td>"
            f"<td>{p.tracks}</td><td class=\"{verdict_class}\">{escape(p.verdict())}</td></tr>\n")
    out.append("</tbody>\n</table>\n</section>\n")
    return "".join(out)


def _tracks_table(comparison: Comparison, track_links: Sequence[Tuple[str, str]]) -> str:
    targets = table_targets(comparison.table)
    target = "vocals" if "vocals" in targets else (targets[0] if targets else "")
    metric = comparison.metric
    how = "median over frames" if metric in ("SDR", "SIR", "ISR", "SAR") else "whole track"
    out = ["<section id=\"tracks\">\n<h2>Tracks</h2>\n",
           f"<p>Per-track {escape(target)} {escape(metric)} ({how}); open a track to listen.</p>\n",
           "<table class=\"sortable\" id=\"tracks-table\">\n<thead><tr>", _th("track")]
    out += [_th(f"{m} {target} {metric}", True) for m in comparison.order]
    out.append("</tr></thead>\n<tbody>\n")
    for track, link in track_links:
        mark = " <small title=\"not every method has this track\">(partial)</small>" if track in comparison.partial else ""
        cells = [f"<td><a href=\"{escape(link)}\">{escape(track)}</a>{mark}</td>"]
        for method in comparison.order:
            v = float(values(comparison.table, method, target, metric, [track])[0])
            cells.append(f"<td data-sort=\"{_sort_key(v)}\">{_num(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>\n")
    out.append("</tbody>\n</table>\n</section>\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# a track page


def track_html(track: str, duration: float, mixture: Optional[Player], sections: Sequence[TargetSection],
               notes: Sequence[str] = (), curve_range: Optional[Dict[str, Tuple[float, float]]] = None,
               mixture_methods: Sequence[str] = ()) -> str:
    """The page of one track: the mixture, then per target the reference and each method's estimate.

    Every estimate shows its per-frame SDR curve; the cursors on the curves
    and spectrograms follow the audio that plays. Within a target, the A/B
    buttons switch between the mixture, the reference and the estimates at
    the same time position (``report.js``).

    Args:
        duration: the track's length in seconds (the time axis of every curve and spectrogram).
        curve_range: ``{target: (low, high)}`` dB of that target's curves (default: from the curves).
        mixture_methods: methods whose estimate is the mixture (the page says so instead of a player).
    """
    parts = [_head(track, "../"), f"<body class=\"track\" data-duration=\"{duration:.6f}\">\n<header>\n",
             "<p><a href=\"../index.html\">← all results</a></p>\n", f"<h1>{escape(track)}</h1>\n",
             f"<p>{duration:.1f} s. Play any player; the cursors follow it. The A/B buttons switch players "
             "at the same position.</p>\n"]
    if notes:
        parts.append("<ul class=\"notes\">\n" + "".join(f"<li>{escape(n)}</li>\n" for n in notes) + "</ul>\n")
    parts.append("</header>\n<main>\n")
    if mixture is not None:
        parts.append("<section class=\"stem-group\" id=\"mixture\">\n<h2>mixture</h2>\n" + _player(mixture) + "</section>\n")
    for section in sections:
        low, high = (curve_range or {}).get(section.target) or _curve_range(
            [c for _, _, c, _ in section.estimates if c is not None])
        parts.append(f"<section class=\"stem-group\" id=\"target-{escape(section.target)}\" "
                     f"data-target=\"{escape(section.target)}\">\n<h2>{escape(section.target)}</h2>\n")
        choices = ([mixture] if mixture else []) + ([section.reference] if section.reference else []) + [
            p for _, p, _, _ in section.estimates if p is not None]
        if len(choices) > 1:
            parts.append("<div class=\"ab\" role=\"group\" aria-label=\"switch at the same position\">A/B: ")
            parts.append(" ".join(f"<button type=\"button\" data-player=\"{escape(p.id)}\">{escape(p.label)}</button>"
                                  for p in choices))
            parts.append("</div>\n")
        if section.reference is not None:
            parts.append("<div class=\"stem reference\">\n<h3>reference</h3>\n" + _player(section.reference) + "</div>\n")
        for method, player, curve, median in section.estimates:
            shown = ([f"SDR {_num(median)} dB"] if curve is not None else []) + [
                f"{escape(m)} {_num(v)} dB" for m, v in section.whole.get(method, {}).items()]
            parts.append(f"<div class=\"stem estimate\" data-method=\"{escape(method)}\">\n"
                         f"<h3>{escape(method)} <small>{' · '.join(shown)}</small></h3>\n")
            if player is not None:
                parts.append(_player(player))
            elif method in mixture_methods:
                parts.append("<p class=\"same\">its estimate is the mixture (the mixture's player above)</p>\n")
            if curve is not None:
                parts.append(sdr_curve(curve, duration, low, high, f"{method} {section.target} SDR per frame"))
            parts.append("</div>\n")
        parts.append("</section>\n")
    parts.append("</main>\n")
    parts.append(_tail("../"))
    return "".join(parts)


def _player(p: Player) -> str:
    out = [f"<div class=\"player\">\n<div class=\"lane audio\"><span class=\"axis\"></span><div class=\"plot\">"
           f"<audio id=\"{escape(p.id)}\" controls preload=\"metadata\" src=\"{escape(p.src)}\"></audio>"]
    if p.wav:
        out.append(f" <a class=\"wav\" href=\"{escape(p.wav)}\" download>wav</a>")
    out.append("</div></div>\n")
    if p.spectrogram:
        out.append(f"<div class=\"lane spec\"><span class=\"axis\"><span>mel</span><span>0 Hz</span></span><div class=\"plot\">"
                   f"<img src=\"{escape(p.spectrogram)}\" alt=\"spectrogram of {escape(p.label)}\">"
                   "<div class=\"bar\" data-cursor></div></div></div>\n")
    out.append("</div>\n")
    return "".join(out)


def _curve_range(curves: Sequence[Curve]) -> Tuple[float, float]:
    """Whole dB around the finite values of the curves: 0 dB included, at least 10 dB, the lowest outliers clipped."""
    finite = [c.sdr[np.isfinite(c.sdr)] for c in curves]
    allv = np.concatenate(finite) if finite else np.zeros(0)
    if allv.size == 0:
        return -5.0, 5.0
    floor = math.floor(float(np.percentile(allv, 5))) - 5.0  # lower outliers (near-silent frames) are clipped
    low = min(0.0, max(math.floor(float(allv.min())), floor))
    high = max(0.0, math.ceil(float(allv.max())))
    if high - low < 10.0:
        high = low + 10.0
    return low, high


def sdr_curve(curve: Curve, duration: float, low: float, high: float, label: str) -> str:
    """An inline SVG of the per-frame SDR (a step per frame, gaps at NaN) with a cursor and the 0 dB line.

    The x axis is the track's time (``CURVE_WIDTH`` units for ``duration``
    seconds), stretched to the page width; the y axis spans ``low..high`` dB.
    """
    span = max(high - low, 1e-9)
    scale = CURVE_WIDTH / duration if duration > 0 else 0.0

    def y(v: float) -> float:
        return CURVE_HEIGHT - (min(max(v, low), high) - low) / span * CURVE_HEIGHT

    path: List[str] = []
    pen_up = True
    for t, d, v in zip(curve.times, curve.durations, curve.sdr):
        if not math.isfinite(v):
            pen_up = True
            continue
        x0, x1, yy = t * scale, min(t + d, duration) * scale, y(v)
        path.append(f"{'M' if pen_up else 'L'}{x0:.1f} {yy:.1f}H{x1:.1f}")
        pen_up = False
    zero = y(0.0)
    return (
        f"<div class=\"lane curve\"><span class=\"axis\"><span>{high:g} dB</span><span>{low:g} dB</span></span><div class=\"plot\">"
        f"<svg viewBox=\"0 0 {CURVE_WIDTH:g} {CURVE_HEIGHT:g}\" preserveAspectRatio=\"none\" role=\"img\" "
        f"aria-label=\"{escape(label)}\">"
        f"<line class=\"zero\" x1=\"0\" x2=\"{CURVE_WIDTH:g}\" y1=\"{zero:.1f}\" y2=\"{zero:.1f}\" vector-effect=\"non-scaling-stroke\"/>"
        f"<path class=\"sdr\" d=\"{''.join(path)}\" vector-effect=\"non-scaling-stroke\"/>"
        f"<line class=\"cursor\" data-cursor x1=\"0\" x2=\"0\" y1=\"0\" y2=\"{CURVE_HEIGHT:g}\" "
        "vector-effect=\"non-scaling-stroke\"/></svg></div></div>\n"
    )

"""Comparing methods as SiSEC 2018 did, and listening to them.

Several named score folders (what ``eval.py`` writes, or any folder of
museval per-track json such as the SiSEC 2018 submissions) are read,
aggregated and compared:

* :mod:`.scores` -- reading score folders (museval json with bare ``NaN``
  tokens; whole-track SDR where present); the tracks all methods share;
* :mod:`.table` -- per track the median over frames, then the median over
  tracks (the functions ``eval.py`` aggregates with), per method, target and metric;
* :mod:`.bootstrap` -- the bootstrap confidence interval of each median;
* :mod:`.paired` -- per pair of methods: median difference, wins, Wilcoxon
  signed-rank test, Conover's post-hoc test, Holm's correction, verdicts;
* :mod:`.run` -- :func:`compare_folders` / :func:`compare`: all of it, in memory;
* :mod:`.results` -- the text tables, ``results.csv``, ``results.json``,
  ``pairwise.csv`` and the plots written to a folder;
* :mod:`.plots` -- box plots, pairwise p-value heat maps, method x track heat maps;
* :mod:`.media`, :mod:`.page`, :mod:`.report` -- the listening page: audio,
  spectrograms, HTML, written as a folder that appears complete or not at all.

``python -m openunmix.compare NAME=DIR ...`` is the command (it lives in
:mod:`openunmix.commands.compare`). Nothing here prints errors: problems
raise :class:`CompareError` (one line).
"""

from .bootstrap import BootstrapSettings, median_ci
from .media import AudioSources
from .paired import Pair, PairedResult, PairedSettings, compare_pairs, conover_holm, conover_iman, holm, wilcoxon_p
from .report import (ReportSettings, check_report_folder, evaluation_report, is_report, report_tracks, write_listening_page,
                     write_report)
from .results import (
    format_pairs, format_table, notes, pairwise_csv, render_plots, results_csv, results_json, write_results,
)
from .run import CompareSettings, Comparison, compare, compare_folders
from .scores import (
    CompareError, MethodScores, TrackFrames, load_method, load_methods, read_museval_json, score_files, shared_tracks,
)
from .table import GLOBAL, Row, aggregate, method_order, track_table

__all__ = [
    "GLOBAL", "AudioSources", "BootstrapSettings", "CompareError", "CompareSettings", "Comparison", "MethodScores",
    "Pair", "PairedResult", "PairedSettings", "ReportSettings", "Row", "TrackFrames", "aggregate",
    "check_report_folder", "write_listening_page", "compare", "compare_folders", "compare_pairs", "conover_holm", "conover_iman",
    "evaluation_report", "format_pairs", "format_table", "holm", "is_report", "load_method", "load_methods",
    "median_ci", "method_order", "notes", "pairwise_csv", "read_museval_json", "render_plots", "report_tracks",
    "results_csv",
    "results_json", "score_files", "shared_tracks", "track_table", "wilcoxon_p", "write_report", "write_results",
]

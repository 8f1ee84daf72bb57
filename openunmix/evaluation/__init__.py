"""Evaluation on MUSDB18: separate a subset, score it with museval, aggregate as in SiSEC 2018.

The steps can run apart (separation on a GPU machine, scoring on CPUs):

* :mod:`.tracks` -- the tracks of a subset and the folders of an evaluation;
* :mod:`.estimates` -- :func:`separate_tracks` writes
  ``ESTIMATES_DIR/<subset>/<track>/<source>.wav`` (32-bit float) with one
  :class:`~openunmix.separation.separator.Separator`, and reads them back;
* :mod:`.metrics` -- the metrics by name (``bsseval``, ``usdr``, ``sisdr``) and the whole-track ones;
* :mod:`.scoring` -- :func:`score_tracks` scores the estimates on disk with
  BSSEval v4 (museval, 1 s windows and hops) and the whole-track metrics in
  parallel processes and writes per track ``EVAL_DIR/<subset>/<track>.json``
  (museval's own format) and ``EVAL_DIR/global_sdr/<subset>/<track>.json``
  (whole-track uSDR and SI-SDR);
* :mod:`.aggregate` -- :func:`summarize`: per track the median over frames
  (NaN frames ignored), then the median over tracks, per target and metric,
  and the mean over tracks of the whole-track metrics;
* :mod:`.report` -- text tables, ``results.csv`` and ``sdr.png`` (the listening page of a run is
  :func:`openunmix.compare.write_listening_page`'s);
* :mod:`.baseline` -- :func:`evaluate_mixture_baseline`: the mixture scored as every target's estimate;
* :mod:`.settings` -- :class:`EvaluationSettings` (every setting of a run, checked when made),
  :class:`EvaluationResult`, where the baseline's scores go;
* :mod:`.run` -- :func:`evaluate` drives all of it for a dataset, alone or as one of many processes
  (``torchrun``, job arrays: :func:`share_tracks`); :func:`run_evaluation` is what ``eval.py`` runs.

Nothing here prints errors: problems raise :class:`EvaluationError` (one line).
"""

from .aggregate import (
    COLUMNS, Summary, load_results, nanmedian, order_targets, read_global_sdr, read_track_scores, read_whole_track,
    summarize, summarize_results, track_medians,
)
from .metrics import DEFAULT_METRICS, METRIC_NAMES, MetricError, parse_metrics, sisdr, usdr
from .estimates import SUBTYPE, load_estimates, separate_array, separate_track, separate_tracks
from .baseline import baseline_targets, evaluate_mixture_baseline, mixture_baseline
from .settings import BASELINE_DIR, baseline_folder
from .report import format_comparison, format_table, plot_sdr, write_csv, write_report
from .run import (
    SUBSETS, EvaluationResult, EvaluationSettings, SettingError, evaluate, run_evaluation, separate_dataset,
)
from .scoring import (
    EPS, METRICS, WINDOW, Frames, ScoreJob, TrackScores, fit_estimate, frames_from_museval, global_sdr, score_track,
    score_tracks,
)
from .tracks import (
    ALONE, GLOBAL_DIR, MUSDB_TARGETS, EvaluationError, check_scorable, check_target_names, check_writable, estimates_folder,
    global_sdr_path, has_estimates, is_scored, list_tracks, scorable, scores_path, share_tracks,
)

__all__ = [
    "DEFAULT_METRICS", "METRIC_NAMES", "MetricError", "parse_metrics", "sisdr", "usdr", "read_whole_track",
    "summarize_results",
    "ALONE", "BASELINE_DIR", "COLUMNS", "EPS", "GLOBAL_DIR", "METRICS", "MUSDB_TARGETS", "SUBSETS", "SUBTYPE", "WINDOW",
    "EvaluationError", "EvaluationResult", "EvaluationSettings", "Frames", "ScoreJob", "SettingError", "Summary",
    "TrackScores", "baseline_folder", "baseline_targets", "mixture_baseline", "run_evaluation",
    "check_scorable", "check_target_names", "check_writable", "estimates_folder", "evaluate",
    "evaluate_mixture_baseline", "fit_estimate", "format_comparison", "format_table", "frames_from_museval",
    "global_sdr", "global_sdr_path", "has_estimates", "is_scored", "list_tracks", "load_estimates", "load_results",
    "nanmedian", "order_targets", "plot_sdr", "read_global_sdr", "read_track_scores", "scorable", "score_track",
    "score_tracks", "scores_path", "separate_array", "separate_dataset", "separate_track", "separate_tracks", "share_tracks",
    "summarize", "track_medians", "write_csv", "write_report",
]

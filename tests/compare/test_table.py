"""openunmix.compare.table: the table's medians against eval.py's aggregation and museval's."""

import pytest

from openunmix.compare import BootstrapSettings, CompareSettings, compare_folders
from openunmix.compare.table import GLOBAL, row_lookup
from openunmix.evaluation import summarize


FAST = CompareSettings(bootstrap=BootstrapSettings(resamples=999))



def _folders(study, names=("A", "B", "C")):
    return [(n, study[n]) for n in names]



def test_table_agrees_with_eval_aggregation_and_museval(study):
    """Per method the same medians as eval.py's summarize() and museval's own EvalStore; global SDR mean as eval.py."""
    museval = pytest.importorskip("museval")
    from openunmix.compare.scores import load_method

    comparison = compare_folders(_folders(study), FAST)
    rows = row_lookup(comparison.rows)
    for name in ("A", "B", "C"):
        method = load_method(name, study[name])
        summary = summarize({t: f.frames for t, f in method.tracks.items()}, method.global_sdr)
        store = museval.EvalStore()
        store.add_eval_dir(study[name])
        theirs = store.agg_frames_tracks_scores()
        for target, row in summary.items():
            for metric in ("SDR", "SIR", "ISR", "SAR"):
                assert rows[(name, target, metric)].median == pytest.approx(row[metric], abs=1e-12)
                assert rows[(name, target, metric)].median == pytest.approx(theirs[(target, metric)], abs=1e-9)
            if method.global_sdr:
                assert rows[(name, target, GLOBAL)].mean == pytest.approx(row["uSDR"], abs=1e-12)
            else:
                assert (name, target, GLOBAL) not in rows
    assert comparison.order == ["A", "B", "C"]  # by median vocals SDR

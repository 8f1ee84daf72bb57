"""openunmix.compare.run: compare_folders on SiSEC 2018's published scores (against museval and scikit-posthocs),
partial tracks named and left out of the paired tests."""

import json
import os

import numpy as np
import pytest

from helpers.studies import SISEC
from openunmix.compare import BootstrapSettings, CompareSettings, compare_folders, results_json
from openunmix.compare.table import GLOBAL, row_lookup


FAST = CompareSettings(bootstrap=BootstrapSettings(resamples=999))



def _folders(study, names=("A", "B", "C")):
    return [(n, study[n]) for n in names]



@pytest.mark.skipif(not SISEC.is_dir(), reason=f"no SiSEC 2018 scores at {SISEC} (../shared/sisec18)")
def test_sisec18_table_agrees_with_museval_and_scikit_posthocs(tmp_path):
    """The published SiSEC 2018 json (bare NaN tokens, STL2 without accompaniment): our table equals museval's
    MethodStore aggregate, and our Conover test equals scikit-posthocs' on the real per-track SDR."""
    museval = pytest.importorskip("museval")
    sp = pytest.importorskip("scikit_posthocs")
    methods = ("TAK1", "UHL2", "STL2", "IRM1")
    tracks = sorted(p.name for p in (SISEC / "TAK1" / "test").glob("*.json"))[:8]
    store = museval.MethodStore()
    for m in methods:  # museval reads whole folders: a folder of 8 links per method keeps it quick
        (tmp_path / m / "test").mkdir(parents=True)
        for t in tracks:
            os.symlink(SISEC / m / "test" / t, tmp_path / m / "test" / t)
        store.add_eval_dir(tmp_path / m)
    theirs = store.agg_frames_tracks_scores()
    ours = compare_folders([(m, tmp_path / m) for m in methods], FAST)
    compared = 0
    for r in ours.rows:
        if r.metric != GLOBAL:
            assert r.median == pytest.approx(theirs[(r.method, r.target, r.metric)], abs=1e-9)
            compared += 1
    assert compared == len(theirs) == 4 * 4 * 4 + 3 * 4  # STL2 has no accompaniment
    # the full set: 50 shared tracks, the paired tests on all of them
    full = compare_folders([(m, SISEC / m) for m in methods], FAST)
    assert len(full.common) == 50 and not full.partial
    names, p = full.paired.conover["vocals"]["SDR"]
    scores = [[full.table[m]["vocals"]["SDR"][t] for t in full.common] for m in names]
    expected = sp.posthoc_conover(scores, p_adjust="holm").to_numpy()
    off = ~np.eye(len(names), dtype=bool)
    np.testing.assert_allclose(p[off], expected[off], rtol=1e-9)
    assert {(q.a, q.b) for q in full.paired.pairs if q.target == "accompaniment" and q.metric == "SDR"} == {
        ("TAK1", "UHL2"), ("TAK1", "IRM1"), ("UHL2", "IRM1")}
    assert full.order[0] == "IRM1"  # the oracle leads on median vocals SDR



def test_partial_tracks_are_named_and_left_out_of_the_paired_tests(study):
    comparison = compare_folders(_folders(study), FAST)
    assert comparison.common == ["Alpha - One", "Beta & Co - Two 'live'"]
    assert comparison.partial == {"Gamma - Three": ["A", "B"]}
    assert {p.tracks for p in comparison.paired.pairs} == {2}
    assert row_lookup(comparison.rows)[("A", "vocals", "SDR")].tracks == 3  # the table keeps every track
    data = results_json(comparison)
    assert data["tracks"]["partial"] == {"Gamma - Three": ["A", "B"]}
    json.dumps(data, allow_nan=False)  # strict json: NaN written as null

"""openunmix.compare.paired: Conover and Holm against scikit-posthocs, pairs, wins, Wilcoxon and verdicts."""

import math

import numpy as np
import pytest

from helpers.studies import write_method
from openunmix.compare import (BootstrapSettings, CompareSettings, PairedSettings, compare_folders, conover_holm,
                               conover_iman, holm, wilcoxon_p)


FAST = CompareSettings(bootstrap=BootstrapSettings(resamples=999))



def test_conover_and_holm_agree_with_scikit_posthocs():
    sp = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(4)
    groups = [np.round(rng.normal(0.4 * i, 1.0, 15), 1) for i in range(4)]  # rounded: ties
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(conover_iman(groups)[off], sp.posthoc_conover(groups).to_numpy()[off], rtol=1e-10)
    np.testing.assert_allclose(conover_holm(groups)[off], sp.posthoc_conover(groups, p_adjust="holm").to_numpy()[off],
                               rtol=1e-10)
    # Holm by hand: sorted 0.01, 0.02, 0.04 times 3, 2, 1, made monotone
    np.testing.assert_allclose(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    assert np.isnan(holm([np.nan, 0.01])[0]) and holm([np.nan, 0.01])[1] == 0.01
    assert np.isnan(conover_iman([np.ones(3), np.ones(3)])).all()  # all equal: undefined, not an error



def test_pairs_wins_wilcoxon_and_verdicts(tmp_path):
    from scipy import stats

    tracks = [f"t{i}" for i in range(8)]
    for name, level in (("good", 8.0), ("bad", 2.0)):
        write_method(tmp_path / name, tracks, level, 0, nan_frames=0)
    comparison = compare_folders([("bad", tmp_path / "bad"), ("good", tmp_path / "good")], FAST)
    pair = next(p for p in comparison.paired.pairs if p.target == "vocals" and p.metric == "SDR")
    d = np.array([comparison.table["bad"]["vocals"]["SDR"][t] - comparison.table["good"]["vocals"]["SDR"][t]
                  for t in tracks])
    assert (pair.a, pair.b, pair.tracks, pair.wins_a, pair.wins_b, pair.ties) == ("bad", "good", 8, 0, 8, 0)
    assert pair.median_diff == pytest.approx(np.median(d))
    assert pair.wilcoxon_p == pytest.approx(stats.wilcoxon(d).pvalue) == wilcoxon_p(d)
    assert pair.better == "good" and pair.verdict() == "good > bad"
    strict = compare_folders([("bad", tmp_path / "bad"), ("good", tmp_path / "good")],
                             CompareSettings(paired=PairedSettings(alpha=0.001)))
    assert all(not p.better for p in strict.paired.pairs)  # 8 tracks cannot reach p < 0.001
    assert math.isnan(wilcoxon_p(np.zeros(5)))

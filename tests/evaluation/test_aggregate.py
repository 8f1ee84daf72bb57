"""openunmix.evaluation.aggregate on known frame scores: per-track medians over non-NaN frames, the summary
over tracks, and agreement with museval's EvalStore."""

import math

import museval
import pytest

from helpers.scores import FRAMES, GLOBAL, NAN, same
from openunmix.evaluation.aggregate import nanmedian, summarize, track_medians
from openunmix.evaluation.scoring import METRICS


def test_track_medians_ignore_nan_frames():
    assert track_medians(FRAMES["a"])["drums"] == {"SDR": 1.0, "SIR": 1.0, "ISR": 2.0, "SAR": 3.0}
    vocals = track_medians(FRAMES["a"])["vocals"]
    assert (vocals["SDR"], vocals["ISR"], vocals["SAR"]) == (3.0, 2.0, 5.0) and math.isnan(vocals["SIR"])
    assert math.isnan(nanmedian([])) and math.isnan(nanmedian([NAN, NAN]))


def test_summarize_hand_computed():
    summary = summarize(FRAMES, GLOBAL)
    assert list(summary) == ["vocals", "drums", "bass"]  # musdb order
    # per-track medians over non-NaN frames, then the median over the tracks that have one
    expected = {
        "vocals": {"SDR": 3.5, "SIR": 6.25, "ISR": 3.0, "SAR": 7.0, "uSDR": 3.0, "tracks": 3},
        "drums": {"SDR": 1.0, "SIR": 1.0, "ISR": 2.0, "SAR": 3.0, "uSDR": 4.0, "tracks": 1},
        "bass": {"SDR": NAN, "SIR": NAN, "ISR": NAN, "SAR": NAN, "uSDR": NAN, "tracks": 1},
    }
    for target, row in expected.items():
        assert set(summary[target]) == set(row)
        assert all(same(summary[target][k], v) for k, v in row.items()), (target, summary[target])


@pytest.mark.numerics
def test_summarize_agrees_with_museval_evalstore():
    store = museval.EvalStore(frames_agg="median", tracks_agg="median")
    for track, targets in FRAMES.items():
        ts = museval.TrackStore(track, win=1.0, hop=1.0)
        for target, values in targets.items():
            ts.add_target(target, values)
        store.add_track(ts)
    theirs = store.agg_frames_tracks_scores()
    ours = summarize(FRAMES, GLOBAL)
    for target in ours:
        for metric in METRICS:
            assert same(ours[target][metric], float(theirs[target][metric])), (target, metric)

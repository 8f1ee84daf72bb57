"""The evaluation's metrics by name."""

import numpy as np
import pytest

from openunmix.evaluation.metrics import METRIC_NAMES, MetricError, parse_metrics, whole_track_scores


def test_whole_track_scores_picks_the_metrics():
    rng = np.random.default_rng(6)
    ref, est = rng.standard_normal((2, 100)), rng.standard_normal((2, 100))
    assert set(whole_track_scores(ref, est, ("usdr",))) == {"usdr"}
    assert set(whole_track_scores(ref, est, ("bsseval", "usdr", "sisdr"))) == {"usdr", "sisdr"}


def test_parse_metrics_orders_and_refuses_unknown_names():
    assert parse_metrics(["sisdr", "USDR", "sisdr"]) == ("usdr", "sisdr")
    with pytest.raises(MetricError) as err:
        parse_metrics(["usdr", "pesq"])
    assert str(err.value) == f"unknown metric 'pesq'; the metrics are {', '.join(METRIC_NAMES)}"
    with pytest.raises(MetricError):
        parse_metrics([""])

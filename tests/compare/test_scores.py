"""openunmix.compare.scores: museval's json, bare NaN tokens and frame times."""

import math

import numpy as np

from helpers.studies import museval_json
from openunmix.compare import read_museval_json


def test_reads_bare_nan_tokens_and_frame_times(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(museval_json({"vocals": {m: [math.nan, 1.0, 2.0] for m in ("SDR", "SIR", "ISR", "SAR")}}))
    assert "NaN" in path.read_text()  # the bare token, as museval and SiSEC's files have it
    scores = read_museval_json(path)
    assert np.isnan(scores.frames["vocals"]["SDR"][0]) and scores.frames["vocals"]["SDR"][2] == 2.0
    assert scores.times["vocals"].tolist() == [0.0, 1.0, 2.0] and scores.end() == 3.0

"""openunmix.demo.tracks: a track's synthesis is deterministic and depends on its seed and index."""

import numpy as np

from openunmix import demo

RATE = 44100
SEED = 7
FILES = ("mixture", "vocals", "drums", "bass", "other")


def test_synthesis_is_deterministic_and_seed_dependent():
    a = demo.synthesize_track(demo.track_rng(SEED, "train", 0), 3.0)
    b = demo.synthesize_track(demo.track_rng(SEED, "train", 0), 3.0)
    c = demo.synthesize_track(demo.track_rng(SEED + 1, "train", 0), 3.0)
    d = demo.synthesize_track(demo.track_rng(SEED, "train", 1), 3.0)
    for name in FILES:
        assert a[name].dtype == np.float32 and a[name].shape == (2, 3 * RATE)
        np.testing.assert_array_equal(a[name], b[name])  # the same computation twice in one process
        assert not np.array_equal(a[name], c[name])
        assert not np.array_equal(a[name], d[name])

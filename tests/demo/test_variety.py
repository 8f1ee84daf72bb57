"""openunmix.demo.variety: the demo dataset's ``variety`` setting: the default path is
unchanged, the wide one is deterministic and holds test keys and vocal levels out of train/valid."""

from __future__ import annotations

import numpy as np
import pytest

from openunmix import demo
from openunmix.demo.song import plan_song

RATE = 44100

# (energy, peak) of mixture, vocals, drums, bass, other of the tracks ("train", 0), ("valid", 0),
# ("test", 0), ("train", 3) of seed 7, 2 s at 44100 Hz, computed with synthesize_track at commit
# 17e22b5, before the variety setting existed.  Not a bit-exact digest: numpy's sin/exp kernels
# differ by an ulp between CPUs (AVX-512, AVX2, SSE), which moves float32 samples by at most an
# ulp (6e-8 relative) here and there; DEMO_RTOL leaves two decades above that, while any change of
# a random draw or a level moves these figures by far more.
DEMO_FINGERPRINT = [
    [(4932.88771, 0.771958292), (2261.30515, 0.638156056), (1363.54738, 0.452818751), (614.748553, 0.125688732), (516.741637, 0.176496312)],
    [(5946.53288, 0.686975718), (3289.37092, 0.330923408), (1322.48718, 0.51261729), (1050.98703, 0.183218986), (763.628904, 0.271623522)],
    [(4792.13098, 0.720172942), (2151.99297, 0.283619791), (1186.50631, 0.66212219), (698.939268, 0.152629003), (729.106751, 0.291806459)],
    [(5671.91579, 0.793226182), (2615.43519, 0.482939094), (1282.93581, 0.535337865), (592.48197, 0.120234273), (825.683821, 0.344916165)],
]
DEMO_RTOL = 1e-5


def _fingerprint(audio):
    return [(float(np.sum(audio[n].astype(np.float64) ** 2)), float(np.max(np.abs(audio[n]))))
            for n in ("mixture",) + demo.SOURCES]


def _track(split: str, index: int, variety: str, seed: int = 7, duration: float = 2.0):
    return demo.synthesize_track(demo.track_rng(seed, split, index), duration, RATE, variety, split)


def test_demo_variety_is_unchanged():
    keys = (("train", 0), ("valid", 0), ("test", 0), ("train", 3))
    for (split, i), want in zip(keys, DEMO_FINGERPRINT):
        np.testing.assert_allclose(_fingerprint(_track(split, i, "demo")), want, rtol=DEMO_RTOL)
    # the default of synthesize_track is the demo variety, whatever the split
    default = demo.synthesize_track(demo.track_rng(7, "test", 0), 2.0, RATE)
    np.testing.assert_array_equal(default["mixture"], _track("test", 0, "demo")["mixture"])


@pytest.fixture(scope="module")
def wide():
    return {key: _track(*key, "wide", duration=3.0) for key in (("train", 0), ("valid", 0), ("test", 0), ("test", 1))}


def test_wide_is_deterministic_and_differs_from_demo(wide):
    again = _track("train", 0, "wide", duration=3.0)
    for name in ("mixture",) + demo.SOURCES:
        assert again[name].dtype == np.float32 and again[name].shape == (2, 3 * RATE)
        np.testing.assert_array_equal(again[name], wide["train", 0][name])
        assert np.all(np.isfinite(again[name]))
    assert not np.array_equal(_track("train", 0, "demo", duration=3.0)["mixture"], wide["train", 0]["mixture"])


def test_wide_mixture_is_sum_of_stems_and_levels_in_range(wide):
    for (split, _), audio in wide.items():
        ranges = demo.track_ranges("wide", split)
        stems = {name: audio[name].astype(np.float64) for name in demo.SOURCES}
        np.testing.assert_allclose(audio["mixture"], sum(stems.values()), rtol=0, atol=1e-6)
        assert np.max(np.abs(audio["mixture"])) <= ranges.peak[1] + 1e-6
        energy = {name: np.sum(x**2) for name, x in stems.items()}
        accompaniment = np.sum((stems["drums"] + stems["bass"] + stems["other"]) ** 2)
        vocals_db = 10 * np.log10(energy["vocals"] / accompaniment)
        assert ranges.vocals_db[0] - 0.01 < vocals_db < ranges.vocals_db[1] + 0.01
        # drums, bass and other are set against unit energy: their ratios follow from the ranges
        bass_vs_drums = 10 * np.log10(energy["bass"] / energy["drums"])
        other_vs_drums = 10 * np.log10(energy["other"] / energy["drums"])
        assert ranges.bass_db[0] - ranges.drums_db[1] - 0.01 < bass_vs_drums < ranges.bass_db[1] - ranges.drums_db[0] + 0.01
        assert ranges.other_db[0] - ranges.drums_db[1] - 0.01 < other_vs_drums < ranges.other_db[1] - ranges.drums_db[0] + 0.01


def test_wide_test_split_is_held_out():
    train, test = demo.track_ranges("wide", "train"), demo.track_ranges("wide", "test")
    assert demo.track_ranges("wide", "valid") == train
    assert set(train.tonics).isdisjoint(test.tonics) and set(train.tonics) | set(test.tonics) == set(range(12))
    assert test.vocals_db[0] < train.vocals_db[0] and test.vocals_db[1] < train.vocals_db[1]
    assert train.bpm == test.bpm == (70, 170)
    # the song is the first thing drawn from a track's generator: these are the tracks' keys
    tonics = {
        split: {plan_song(demo.track_rng(42, split, i), 1.0, RATE, demo.track_ranges("wide", split)).tonic
                for i in range(60)}
        for split in demo.SPLITS
    }
    assert tonics["train"] | tonics["valid"] <= set(train.tonics)
    assert tonics["test"] <= set(test.tonics)
    assert len(tonics["train"]) == 6 and len(tonics["test"]) == 6
    # the demo variety draws every key in every split
    assert demo.track_ranges("demo", "test") == demo.track_ranges("demo", "train")


def test_bad_variety_or_split():
    with pytest.raises(ValueError):
        demo.track_ranges("loud", "train")
    with pytest.raises(ValueError):
        demo.track_ranges("wide", "eval")
    with pytest.raises(ValueError):
        demo.generate_dataset("unused", variety="loud")


def test_kinds_test_split_is_another_kind_of_music():
    train, test = demo.track_ranges("kinds", "train"), demo.track_ranges("kinds", "test")
    assert demo.track_ranges("kinds", "valid") == train
    # no sound and no tempo of a test track is ever heard in training
    for field in ("voices", "vowel_sets", "instruments", "bass_timbres"):
        assert set(getattr(train.palette, field)).isdisjoint(getattr(test.palette, field)), field
    assert train.bpm[1] < test.bpm[0]
    assert train.palette.vocal_room is None and test.palette.vocal_room is not None
    # the balance is the same in every split: what differs is the kind of music
    assert (train.drums_db, train.bass_db, train.other_db, train.vocals_db) == (
        test.drums_db, test.bass_db, test.other_db, test.vocals_db)
    tempi = {split: {plan_song(demo.track_rng(42, split, i), 1.0, RATE, demo.track_ranges("kinds", split)).bpm
                     for i in range(40)} for split in demo.SPLITS}
    assert max(tempi["train"] | tempi["valid"]) <= train.bpm[1] and min(tempi["test"]) >= test.bpm[0]


def test_kinds_tracks_render_their_palette():
    tracks = {key: _track(*key, "kinds", duration=3.0) for key in (("train", 0), ("train", 1), ("test", 0), ("test", 1))}
    for (split, i), audio in tracks.items():
        again = _track(split, i, "kinds", duration=3.0)
        np.testing.assert_array_equal(again["mixture"], audio["mixture"])
        stems = sum(audio[name].astype(np.float64) for name in demo.SOURCES)
        np.testing.assert_allclose(audio["mixture"], stems, rtol=0, atol=1e-6)  # float32 rounding of the sum
        vocals = audio["vocals"].astype(np.float64)
        side = np.sum((vocals[0] - vocals[1]) ** 2) / np.sum(vocals**2)
        if split == "test":  # the hall's two decorrelated tails make the stem stereo
            assert side > 1e-3, (split, i, side)
        else:  # dry, centred voice: both channels are the same signal
            assert side == 0.0, (split, i, side)
    assert not np.array_equal(tracks["train", 0]["mixture"], _track("train", 0, "wide", duration=3.0)["mixture"])

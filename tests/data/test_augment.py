"""openunmix.data.augment: the augmented mixture is the sum of the augmented sources in every layout;
an unknown augmentation is one line listing the known ones; the variety per step (remix probability, gain
range, repitch) (float comparisons: see helpers/datasets.py and each test)."""

import numpy as np
import pytest
import torch

from helpers.datasets import SR, Recorder, make_musdb, make_trackfolders, make_unaligned, one_line, write
from openunmix import data
from openunmix.data import (
    DatasetError,
    FixedSourcesTrackFolderDataset,
    UnalignedDataset,
    VariableSourcesTrackFolderDataset,
    load_datasets,
)


# a few small wav files written in well under a second: its own copy rather than one shared with test_musdb
@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return make_musdb(tmp_path_factory.mktemp("musdb"))


def test_augmented_mixture_is_sum_of_sources(tmp_path):
    root = make_trackfolders(tmp_path)
    rec = Recorder()
    ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, random_chunks=True,
                                        random_track_mix=True, sample_rate=SR,
                                        source_augmentations=["gain", "channelswap", rec])
    mix, target = ds[2]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])
    rec.seen.clear()
    var = VariableSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            source_augmentations=["gain", rec])
    mix, target = var[1]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    un_root = make_unaligned(tmp_path / "un")
    rec.seen.clear()
    un = UnalignedDataset(un_root, seq_duration=0.5, sample_rate=SR,
                          source_augmentations=["gain", "channelswap", rec])
    mix, target = un[3]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])


def test_unknown_augmentation_lists_known_ones(musdb_root):
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", musdb_root, is_wav=True, sample_rate=SR,
                      source_augmentations=["gain", "reverb"])
    assert one_line(err) == "unknown source augmentation 'reverb'; known: gain, channelswap (or a callable)"
    assert data.augmentation_names() == ("gain", "channelswap")


# --- variety per step: remix probability, source gain range, repitch ---------------------------------------------

FILES = ("vocals.wav", "bass.wav", "drums.wav")


def constant_tracks(root, n=6, seconds=1.0):
    """Track k's file j holds the constant 0.01 * (10 * k + j + 1): each source tells its track."""
    for k in range(n):
        for j, f in enumerate(FILES):
            write(root / "train" / f"track{k}" / f, np.full((2, int(seconds * SR)), 0.01 * (10 * k + j + 1)))
    return root


def fix_ds(root, *augs, **kw):
    """Training excerpts of trackfolder_fix with augmentations ``augs`` (none given: none)."""
    kw.setdefault("seq_duration", 0.25)
    kw.setdefault("samples_per_track", 20)
    return FixedSourcesTrackFolderDataset(root, random_chunks=True, sample_rate=SR,
                                          source_augmentations=list(augs) or None, **kw)


def items(ds):
    return [ds[i] for i in range(len(ds))]


def same_items(a, b):
    return all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b))


def test_remix_prob_0_and_1_are_the_old_items_and_between_mixes_that_share(tmp_path):
    root = constant_tracks(tmp_path)
    default = items(fix_ds(root, "gain", "channelswap"))
    assert same_items(default, items(fix_ds(root, "gain", "channelswap", remix_prob=0.0)))
    mixed = items(fix_ds(root, "gain", "channelswap", random_track_mix=True))
    assert same_items(mixed, items(fix_ds(root, "gain", "channelswap", remix_prob=1.0)))
    assert not same_items(default, mixed)
    rec = Recorder()
    ds = fix_ds(root, rec, remix_prob=0.5)
    assert ds.remix_prob == 0.5
    foreign = 0
    for i in range(len(ds)):
        rec.seen.clear()
        ds[i]
        own = [0.01 * (10 * (i // 20) + j + 1) for j in range(3)]
        # constant sources read exactly (float wav): a source of another track differs by >= 0.01
        foreign += any(abs(float(x[0, 0]) - v) > 1e-3 for x, v in zip(rec.seen, own))
    # 120 items; a remixed item keeps its own three sources with probability 1/6**3, so about 60 +- 5.5 (one sd)
    # differ; the draws are seeded, the bounds leave 4 sd on each side
    assert 38 <= foreign <= 82, foreign
    with pytest.raises(DatasetError) as err:
        fix_ds(root, random_track_mix=True, remix_prob=0.5)
    assert one_line(err) == "random_track_mix means remix_prob 1, not 0.5: give one of them"
    with pytest.raises(DatasetError) as err:
        fix_ds(root, remix_prob=1.5)
    assert one_line(err) == "remix_prob: expected a probability in [0, 1], got 1.5"


def test_source_gain_range_is_respected_and_used(tmp_path):
    root = constant_tracks(tmp_path, n=2)
    rec = Recorder()
    ds = fix_ds(root, "gain", rec, source_gain=(0.1, 1.5))
    scales = []
    for i in range(len(ds)):
        rec.seen.clear()
        ds[i]
        own = [0.01 * (10 * (i // 20) + j + 1) for j in range(3)]
        scales += [float(x[0, 0]) / v for x, v in zip(rec.seen, own)]
    # a float32 product of a float32 constant and gain: relative error <= 2 eps32 (2.4e-7); 1e-6 leaves room
    assert min(scales) >= 0.1 * (1 - 1e-6) and max(scales) <= 1.5 * (1 + 1e-6)
    assert min(scales) < 0.25 and max(scales) > 1.25  # the wider range is used (120 gains, uniform)
    for bad, words in (((0.0, 1.0), "got 0 1"), ((2.0, 1.0), "got 2 1")):
        with pytest.raises(DatasetError) as err:
            fix_ds(root, source_gain=bad)
        assert one_line(err) == f"source_gain: expected factors 0 < LOW <= HIGH, {words}"


def peak_hz(x, rate=SR):
    """The frequency of the strongest bin of a Hann-windowed ``(samples,)`` signal (bin: rate / samples)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def sine_tracks(root, f=500.0, seconds=3.0, n=2):
    t = np.arange(int(seconds * SR)) / SR
    for k in range(n):
        write(root / "train" / f"track{k}" / "vocals.wav", np.tile(0.5 * np.sin(2 * np.pi * f * t), (2, 1)))
        for name in FILES[1:]:
            write(root / "train" / f"track{k}" / name, np.zeros((2, int(seconds * SR))))
    return root


def test_repitch_function_moves_a_sine_by_the_speed():
    f, frames, speed = 500.0, SR, 1.1
    n = data.augment.repitch_span(frames, speed)
    x = np.tile(np.sin(2 * np.pi * f * np.arange(n) / SR), (2, 1)).astype(np.float32)
    y = data.augment.repitch(x, frames)
    assert y.shape == (2, frames) and y.dtype == np.float32
    # 1 s at 8 kHz: 1 Hz bins; the peak bin is within half a bin of f * n / frames (= 550)
    assert abs(peak_hz(y[0]) - f * n / frames) <= 1.0


def test_repitch_in_a_dataset(tmp_path):
    f, semitones = 500.0, 2.0
    root = sine_tracks(tmp_path, f)
    kw = dict(seq_duration=1.0, samples_per_track=8)
    plain = items(fix_ds(root, **kw))
    assert same_items(plain, items(fix_ds(root, repitch_prob=0.0, **kw)))
    ds = fix_ds(root, repitch_prob=1.0, max_semitones=semitones, **kw)
    got = items(ds)
    low, high = f * 2 ** (-semitones / 12), f * 2 ** (semitones / 12)
    peaks = []
    for _, target in got:
        assert target.shape == (2, SR)  # exactly the excerpt's length
        peaks.append(peak_hz(target[0].numpy()))
    # every vocal source at f * r with r within 2 semitones (one 1 Hz bin of tolerance on each side)
    assert all(low - 1.0 <= p <= high + 1.0 for p in peaks), peaks
    assert sum(abs(p - f) > 2.0 for p in peaks) >= len(peaks) // 2, peaks  # most moved
    # reproducible for the same (seed, epoch, index), and another epoch draws again
    again = fix_ds(root, repitch_prob=1.0, max_semitones=semitones, **kw)
    assert same_items(got, items(again))
    again.set_epoch(1)
    assert not torch.equal(again[0][1], got[0][1])

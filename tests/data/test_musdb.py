"""openunmix.data.musdb: MUSDBDataset on a tiny generated MUSDB wav folder (float comparisons: see
helpers/datasets.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from conftest import sum_rtol
from helpers.datasets import SOURCES, SR, Recorder, assert_item, make_musdb, musdb_ds, noise, one_line, read, write
from openunmix import data
from openunmix.data import DatasetError, MUSDBDataset, ShortFileWarning, load_datasets, read_valid_tracks


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return make_musdb(tmp_path_factory.mktemp("musdb"))


# --------------------------------------------------------------------------- musdb


def test_musdb_train_shapes_len_determinism(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=[])
    assert len(ds) == 3 * 4
    assert ds.sample_rate == SR and ds.nb_channels == 2
    assert_item(ds[5], 2, SR)
    a, b = ds[5], ds[5]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # out of order / fresh object: same item
    ds2 = musdb_ds(musdb_root, valid_tracks=[])
    _ = ds2[0]
    assert torch.equal(ds2[5][0], a[0])
    ds.set_epoch(1)
    assert not torch.equal(ds[5][0], a[0])
    other_seed = musdb_ds(musdb_root, valid_tracks=[], seed=7)
    assert not torch.equal(other_seed[5][0], a[0])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_musdb_mixture_is_sum_of_augmented_sources(musdb_root):
    # same seed/epoch/index draw the same excerpt and augmentations for every
    # target, so the four targets must add up to the mixture.
    items = {
        t: musdb_ds(musdb_root, valid_tracks=[], target=t, random_track_mix=True)[3]
        for t in SOURCES + ("accompaniment",)
    }
    mix = items["vocals"][0]
    for t in SOURCES:
        assert torch.equal(items[t][0], mix)
    total = sum(items[t][1] for t in SOURCES)
    assert torch.allclose(total, mix, atol=1e-6)
    assert torch.allclose(items["vocals"][1] + items["accompaniment"][1], mix, atol=1e-6)


def test_musdb_augmented_mixture_recorded(musdb_root):
    rec = Recorder()
    ds = musdb_ds(musdb_root, valid_tracks=[], random_track_mix=True,
                  source_augmentations=["gain", "channelswap", rec])
    mix, target = ds[2]
    assert len(rec.seen) == 4
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])  # vocals come first


def test_musdb_unaugmented_excerpt_matches_files(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=[], random_chunks=False, source_augmentations=None)
    mix, target = ds[4 + 1]  # track 1, second consecutive chunk
    folder = musdb_root / "train" / "B - two"
    span = slice(SR, 2 * SR)
    expected = sum(read(folder / f"{s}.wav")[:, span] for s in SOURCES)
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), read(folder / "vocals.wav")[:, span])


def test_musdb_valid_whole_tracks_accompaniment(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=["B - two"], split="valid", target="accompaniment")
    assert len(ds) == 1
    mix, target = ds[0]
    folder = musdb_root / "train" / "B - two"
    assert tuple(mix.shape) == (2, 3 * SR)
    acc = sum(read(folder / f"{s}.wav") for s in ("drums", "bass", "other"))
    np.testing.assert_allclose(target.numpy(), acc, atol=1e-6)
    np.testing.assert_allclose(mix.numpy(), acc + read(folder / "vocals.wav"), atol=1e-6)
    ds.set_epoch(3)  # validation ignores the epoch
    assert torch.equal(ds[0][0], mix)


def test_musdb_valid_tracks_split(musdb_root, tmp_path):
    train = musdb_ds(musdb_root, valid_tracks=["B - two"], split="train")
    valid = musdb_ds(musdb_root, valid_tracks=["B - two"], split="valid")
    assert [t.name for t in train.tracks] == ["A - one", "C - three"]
    assert [t.name for t in valid.tracks] == ["B - two"]
    with pytest.raises(DatasetError, match="Nope"):
        musdb_ds(musdb_root, valid_tracks=["Nope"], split="valid")
    # musdb's own split: none of its validation names exist here
    assert len(musdb_ds(musdb_root, split="train").tracks) == 3
    with pytest.raises(DatasetError, match="no MUSDB track folders"):
        musdb_ds(musdb_root, split="valid")
    # valid_tracks.txt
    assert read_valid_tracks(tmp_path) is None
    (tmp_path / "valid_tracks.txt").write_text("B - two\n\n C - three \n")
    assert read_valid_tracks(tmp_path) == ["B - two", "C - three"]


def test_musdb_stats_sources(musdb_root, tmp_path):
    ds = musdb_ds(musdb_root, valid_tracks=[])
    assert ds.stats_sources() == [
        [musdb_root / "train" / n / "mixture.wav"] for n in ("A - one", "B - two", "C - three")
    ]
    root = make_musdb(tmp_path, names=("X - y",), mixture=False)
    files = musdb_ds(root, valid_tracks=[]).stats_sources()
    assert files == [[root / "train" / "X - y" / f"{s}.wav" for s in SOURCES]]


def test_musdb_errors(tmp_path):
    with pytest.raises(DatasetError, match="no MUSDB"):
        musdb_ds(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        musdb_ds(tmp_path / "missing")
    root = make_musdb(tmp_path, names=("A - one", "B - two"), seconds=1.0)
    os.remove(root / "train" / "B - two" / "bass.wav")
    with pytest.raises(DatasetError, match=r"B - two.bass\.wav"):
        musdb_ds(root, valid_tracks=[])
    with pytest.raises(ValueError):
        musdb_ds(root, target="piano")


def test_musdb_short_tracks(tmp_path):
    root = make_musdb(tmp_path, names=("A - long", "B - short"), mixture=False)
    for s in SOURCES:
        write(root / "train" / "B - short" / f"{s}.wav", noise(1, 0.5))
    with pytest.warns(ShortFileWarning, match="zero-padded"):
        ds = musdb_ds(root, valid_tracks=[], source_augmentations=None)
    mix, target = ds[4]  # first item of the short track
    assert tuple(mix.shape) == (2, SR)
    assert torch.all(mix[:, SR // 2 :] == 0) and torch.any(mix[:, : SR // 2] != 0)
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = musdb_ds(root, valid_tracks=[], short_tracks="skip")
    assert [t.name for t in ds.tracks] == ["A - long"] and len(ds) == 4


def test_musdb_stem_cache(tmp_path, monkeypatch):
    stempeg = pytest.importorskip("stempeg")
    stems = noise(3, 1.0, rate=44100)[None].repeat(5, axis=0).transpose(0, 2, 1) * 0.5
    (tmp_path / "train").mkdir()
    stem = tmp_path / "train" / "S - stem.stem.mp4"
    stempeg.write_stems(str(stem), stems, sample_rate=44100)
    ds = MUSDBDataset(tmp_path, seq_duration=0.25, samples_per_track=2, valid_tracks=[],
                      sample_rate=22050)
    cache = tmp_path / ".wav-cache" / "train" / "S - stem"
    assert not cache.exists()  # decoded on first use only
    mix, target = ds[1]
    assert tuple(mix.shape) == (2, 22050 // 4)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["mixture.wav"] + [f"{s}.wav" for s in SOURCES])
    assert ds.stats_sources() == [[cache / "mixture.wav"]]
    # a second dataset reuses the cache without decoding
    monkeypatch.setattr(data, "write_wav_cache", lambda *a, **k: pytest.fail("decoded twice"))
    ds2 = MUSDBDataset(tmp_path, seq_duration=None, split="valid", valid_tracks=["S - stem"],
                       sample_rate=44100)
    mix, target = ds2[0]
    # read from the same float wav at its own rate: equal bitwise (the tolerance is kept)
    np.testing.assert_allclose(target.numpy(), read(cache / "vocals.wav"), atol=1e-6)


def test_items_do_not_depend_on_dataloader_workers(musdb_root):
    import multiprocessing

    from torch.utils.data import DataLoader

    ds = musdb_ds(musdb_root, valid_tracks=[], seq_duration=0.25, random_track_mix=True)
    ds.set_epoch(3)
    ctx = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    serial = torch.cat([m for m, _ in DataLoader(ds, batch_size=3, num_workers=0)])
    parallel = torch.cat([m for m, _ in DataLoader(ds, batch_size=3, num_workers=2,
                                                   multiprocessing_context=ctx)])
    assert torch.equal(serial, parallel)


# --------------------------------------------------------------------------- names checked against the data


def test_unknown_musdb_target_lists_targets(musdb_root, tmp_path):
    expected = "unknown MUSDB target 'kazoo'; choose one of vocals, drums, bass, other, accompaniment"
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", musdb_root, target="kazoo", is_wav=True, sample_rate=SR)
    assert one_line(err) == expected
    # checked before the tracks are listed: a root without tracks gives the same error
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", tmp_path / "missing", target="kazoo", is_wav=True)
    assert one_line(err) == expected
    with pytest.raises(DatasetError, match="^unknown MUSDB target 'piano'; choose one of vocals,"):
        musdb_ds(musdb_root, joint_targets=["vocals", "piano"])


JOINT_TARGETS = ["vocals", "drums", "bass", "other"]


def test_musdb_items_carry_every_target(tiny_musdb):
    """Items of several targets at once (X-UMX's joint training)."""
    from openunmix.data import load_datasets

    train, valid = load_datasets("musdb", tiny_musdb, seq_duration=0.5, samples_per_track=2, is_wav=True,
                                 joint_targets=JOINT_TARGETS)
    for ds in (train, valid):
        x, y = ds[1 if ds is train else 0]
        assert y.shape == (4,) + tuple(x.shape)
        # augmented sources, stacked in target order, sum to the mixture: float32 sums of 4 sources, maybe
        # in another order: 4 eps32 of the sum of their sizes (conftest.sum_rtol); measured equal
        torch.testing.assert_close(y.sum(0), x, atol=sum_rtol(4) * float(y.abs().sum(0).max()), rtol=0)
    single_train, _ = load_datasets("musdb", tiny_musdb, target="drums", seq_duration=0.5, samples_per_track=2,
                                    is_wav=True)
    # the same draws and augmentations read from the same files: equal bitwise; the default is kept
    torch.testing.assert_close(single_train[1][1], train[1][1][1])

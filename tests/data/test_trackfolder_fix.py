"""openunmix.data.trackfolder_fix: FixedSourcesTrackFolderDataset on tiny generated track folders (float
comparisons: see helpers/datasets.py)."""

import os
import warnings

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, make_trackfolders, noise, read, write
from openunmix.data import DatasetError, FixedSourcesTrackFolderDataset, ShortFileWarning


def test_fixed_sources(tmp_path):
    root = make_trackfolders(tmp_path)
    ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, random_chunks=True,
                                        random_track_mix=True, sample_rate=SR,
                                        samples_per_track=3)
    assert len(ds) == 9
    assert_item(ds[4], 2, SR // 2)
    assert torch.equal(ds[4][0], ds[4][0])
    ds.set_epoch(1)
    a = ds[4]
    ds.set_epoch(0)
    assert not torch.equal(ds[4][0], a[0])
    # mixture = sum of target and interferers: a dataset with the bass as target
    # draws identical excerpts, so the target difference is the other sources
    plain = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                           source_augmentations=None, random_chunks=False)
    mix, target = plain[1]
    folder = root / "train" / "track1"
    expected = sum(read(folder / f)[:, : SR // 2] for f in ("vocals.wav", "bass.wav", "drums.wav"))
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), read(folder / "vocals.wav")[:, : SR // 2])
    whole = FixedSourcesTrackFolderDataset(root, sample_rate=SR)
    assert len(whole) == 3 and tuple(whole[0][0].shape) == (2, 3 * SR)
    assert whole.stats_sources()[2] == [folder.parent / "track2" / f
                                        for f in ("vocals.wav", "bass.wav", "drums.wav")]
    os.remove(folder / "drums.wav")
    with pytest.raises(DatasetError, match=r"track1.drums\.wav: missing"):
        FixedSourcesTrackFolderDataset(root, sample_rate=SR)


def test_trackfolder_short_tracks(tmp_path):
    root = make_trackfolders(tmp_path, n=2, seconds=1.0)
    write(root / "train" / "track1" / "bass.wav", noise(0, 0.25, channels=1))
    with pytest.warns(ShortFileWarning, match="bass.wav"):
        ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            source_augmentations=None)
    mix, target = ds[1]
    assert_item((mix, target), 2, SR // 2)
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            short_tracks="skip")
    assert len(ds) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FixedSourcesTrackFolderDataset(root, sample_rate=SR)  # whole tracks: never short

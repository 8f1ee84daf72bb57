"""openunmix.data.trackfolder_var: VariableSourcesTrackFolderDataset on tiny generated track folders (float
comparisons: see helpers/datasets.py)."""

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, make_trackfolders, noise, read, write
from openunmix.data import DatasetError, VariableSourcesTrackFolderDataset


def test_variable_sources(tmp_path):
    make_trackfolders(tmp_path, n=2, files=("vocals.wav", "bass.wav"))
    write(tmp_path / "train" / "track2" / "piano.wav", noise(7))
    write(tmp_path / "train" / "track2" / "guitar.wav", noise(8))
    with pytest.warns(UserWarning, match="without vocals.wav"):
        ds = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR)
    assert len(ds) == 2
    mix, target = ds[1]
    folder = tmp_path / "train" / "track1"
    expected = read(folder / "vocals.wav") + read(folder / "bass.wav")
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    silent = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR, seq_duration=0.5,
                                               silence_missing_targets=True, samples_per_track=2,
                                               source_augmentations=None, random_chunks=False)
    assert len(silent) == 6
    mix, target = silent[4]
    assert_item((mix, target), 2, SR // 2)
    assert torch.all(target == 0)
    folder = tmp_path / "train" / "track2"
    np.testing.assert_allclose(
        mix.numpy(), (read(folder / "piano.wav") + read(folder / "guitar.wav"))[:, : SR // 2],
        atol=1e-6)
    aug = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR, seq_duration=0.5,
                                            silence_missing_targets=True, random_chunks=True)
    assert torch.equal(aug[0][0], aug[0][0])
    assert len(silent.stats_sources()[2]) == 2
    (tmp_path / "empty" / "t").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no \\*\\.wav source files"):
        VariableSourcesTrackFolderDataset(tmp_path, split="empty")

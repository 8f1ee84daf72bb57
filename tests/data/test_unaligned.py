"""openunmix.data.unaligned: UnalignedDataset on tiny generated folders of sources (float comparisons: see
helpers/datasets.py)."""

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, make_unaligned, noise, write
from openunmix import audio
from openunmix.data import DatasetError, ShortFileWarning, UnalignedDataset


def test_unaligned(tmp_path, monkeypatch):
    root = make_unaligned(tmp_path)
    monkeypatch.setattr(audio, "load", lambda *a, **k: pytest.fail("loaded audio"))
    ds = UnalignedDataset(root, seq_duration=0.5, samples_per_track=5, sample_rate=SR,
                          source_augmentations=None)
    monkeypatch.undo()
    assert len(ds) == 2 * 5
    mix, target = ds[7]
    assert_item((mix, target), 2, SR // 2)
    # 0.1 + 0.2 + target - target in float32: 4 eps32 of sizes <= 0.5, 2.4e-7 (and 0.1f + 0.2f = 0.3 + 4e-9)
    np.testing.assert_allclose((mix - target).numpy(), 0.3, atol=1e-6)
    assert torch.equal(ds[7][1], target)
    ds.set_epoch(2)
    assert not torch.equal(ds[7][1], target)
    assert len(ds.stats_sources()) == 2 + 3 + 1
    assert all(len(group) == 1 for group in ds.stats_sources())
    aug = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR)
    mix, target = aug[0]
    assert not torch.allclose(mix - target, torch.tensor(0.3))
    valid = UnalignedDataset(root, split="train", seq_duration=None, sample_rate=SR)
    assert len(valid) == 2 and tuple(valid[0][0].shape) == (2, 3 * SR)


def test_unaligned_errors_and_short(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        UnalignedDataset(tmp_path)
    root = make_unaligned(tmp_path)
    for f in (root / "train" / "music").iterdir():
        f.unlink()
    with pytest.raises(DatasetError, match=r"music: no \*\.wav files"):
        UnalignedDataset(root)
    write(root / "train" / "music" / "m.wav", noise(5, 0.25))
    with pytest.warns(ShortFileWarning):
        ds = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR)
    assert_item(ds[0], 2, SR // 2)
    write(root / "train" / "music" / "long.wav", noise(6, 1.0))
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR, short_tracks="skip")
    assert [f.path.name for f in ds.interference_files["music"]] == ["long.wav"]

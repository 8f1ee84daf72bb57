"""openunmix.data.aligned: AlignedDataset on tiny generated track folders (float comparisons: see
helpers/datasets.py)."""

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, noise, write
from openunmix.data import AlignedDataset, DatasetError


def test_aligned_shapes_alignment_determinism(tmp_path):
    for k in range(3):
        x = noise(k)
        write(tmp_path / "train" / f"t{k}" / "mixture.wav", x)
        write(tmp_path / "train" / f"t{k}" / "vocals.wav", 0.5 * x)
    ds = AlignedDataset(tmp_path, seq_duration=0.5, random_chunks=True, sample_rate=SR,
                        samples_per_track=2)
    assert len(ds) == 6
    mix, target = ds[3]
    assert_item((mix, target), 2, SR // 2)
    np.testing.assert_allclose(target.numpy(), 0.5 * mix.numpy(), atol=1e-7)  # halving is exact in float
    assert torch.equal(ds[3][0], mix)
    ds.set_epoch(1)
    assert not torch.equal(ds[3][0], mix)
    whole = AlignedDataset(tmp_path, sample_rate=SR)
    assert len(whole) == 3 and tuple(whole[0][0].shape) == (2, 3 * SR)
    assert whole.stats_sources()[0] == [tmp_path / "train" / "t0" / "mixture.wav"]


def test_aligned_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        AlignedDataset(tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="no track folders"):
        AlignedDataset(tmp_path)
    write(tmp_path / "train" / "t0" / "mixture.wav", noise(0))
    with pytest.raises(DatasetError, match=r"t0.vocals\.wav: missing"):
        AlignedDataset(tmp_path)

"""openunmix.data.musdb: items of several targets at once (X-UMX's joint training)."""

import torch

from conftest import sum_rtol

TARGETS = ["vocals", "drums", "bass", "other"]


def test_musdb_items_carry_every_target(tiny_musdb):
    from openunmix.data import load_datasets

    train, valid = load_datasets("musdb", tiny_musdb, seq_duration=0.5, samples_per_track=2, is_wav=True,
                                 joint_targets=TARGETS)
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

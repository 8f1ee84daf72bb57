"""openunmix.data.augment: the augmented mixture is the sum of the augmented sources in every layout;
an unknown augmentation is one line listing the known ones (float comparisons: see helpers/datasets.py)."""

import numpy as np
import pytest

from helpers.datasets import SR, Recorder, make_musdb, make_trackfolders, make_unaligned, one_line
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

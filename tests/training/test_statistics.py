"""openunmix.training.statistics: the statistics pass run in the caller's process keeps its thread count."""

import torch

from openunmix import data
from openunmix.training import dataset_statistics


def test_statistics_pass_in_process_keeps_thread_count(tiny_musdb, two_threads):
    train_ds, _ = data.load_datasets("musdb", tiny_musdb, "vocals", seq_duration=1.0, samples_per_track=2,
                                     is_wav=True)
    mean, std = dataset_statistics(train_ds, 44100, 512, 128, nb_workers=0)
    assert mean.shape == (257,) and (std > 0).all()
    assert torch.get_num_threads() == two_threads

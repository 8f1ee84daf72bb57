"""Process-wide settings survive the package's training functions (threads, random state, plot backend).

Left here on purpose: they test openunmix.training (statistics.py, trainer.py), and tests/training/ is being
written by others; they move there with tests/test_train.py. Reduced precision: tests/core/test_precision.py and
tests/programs/test_separate.py."""

import matplotlib
import pytest
import torch

from openunmix import data
from openunmix.demo import generate_dataset
from openunmix.training import TrainConfig, dataset_statistics, train


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("data") / "demo", seed=5, nb_train=2, nb_valid=1,
                            nb_test=0, duration=2.0)


@pytest.fixture
def two_threads():
    """Run with 2 torch threads (a value the package must not change), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_statistics_pass_in_process_keeps_thread_count(musdb_root, two_threads):
    train_ds, _ = data.load_datasets("musdb", musdb_root, "vocals", seq_duration=1.0, samples_per_track=2,
                                     is_wav=True)
    mean, std = dataset_statistics(train_ds, 44100, 512, 128, nb_workers=0)
    assert mean.shape == (257,) and (std > 0).all()
    assert torch.get_num_threads() == two_threads


def test_train_gives_back_threads_random_state_and_plot_backend(tmp_path, musdb_root, two_threads):
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend train() must not switch (it plots the loss curves)
    cfg = TrainConfig(root=str(musdb_root), output=str(tmp_path / "model"), epochs=1, batch_size=2,
                      seq_dur=0.5, samples_per_track=2, nb_workers=0, quiet=True, no_cuda=True,
                      dataset_options={"is_wav": True},
                      architecture_options={"hidden_size": 8, "nfft": 512, "nhop": 128})
    try:
        assert train(cfg) == 0
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    assert (tmp_path / "model" / "vocals.pth").is_file() and (tmp_path / "model" / "vocals_loss.png").is_file()
    assert torch.get_num_threads() == two_threads
    # the run seeded the global generator for its dropout masks; the caller's stream continues
    assert torch.equal(torch.rand(3), expected)

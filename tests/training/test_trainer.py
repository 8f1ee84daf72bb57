"""openunmix.training.trainer: the Trainer API; watching a run with a callback changes nothing and can stop it;
train() gives the caller back its threads, random state and plot backend."""

import matplotlib
import torch

from conftest import TINY_TRAIN
from helpers.training import STEPS_PER_EPOCH, history
from openunmix.commands.train import parse_args
from openunmix.training import TrainConfig, Trainer, train
from openunmix.training.callbacks import Callback


def _tiny_config(root, out):
    cfg = parse_args(["--root", str(root), "--is-wav", "--output", str(out), "--epochs", "2", "--no-cuda",
                      *TINY_TRAIN])
    return cfg


def test_watching_a_run_changes_nothing_and_can_stop_it(tmp_path, musdb_root):
    plain = Trainer(_tiny_config(musdb_root, tmp_path / "plain"))
    plain.run()
    copies = []

    class Watch(Callback):
        def on_step(self, trainer, step):
            copies.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
            return False

    watched = Trainer(_tiny_config(musdb_root, tmp_path / "watched"), callbacks=[Watch()])
    watched.run()
    assert len(copies) == 2 * STEPS_PER_EPOCH
    # the same computations in the same process: bit-identical weights
    for k, v in plain.model.state_dict().items():
        assert torch.equal(v, watched.model.state_dict()[k]), k

    # the deprecated shortcut of a step callback
    stopped = Trainer(_tiny_config(musdb_root, tmp_path / "stopped"), on_step=lambda t, step: step >= 3)
    stopped.run()
    assert stopped.stopped and stopped.scheduler.step_count == 3
    assert history(tmp_path / "stopped")["epochs_trained"] == 1  # the partial epoch 2 is neither validated nor saved


def test_train_gives_back_threads_random_state_and_plot_backend(tmp_path, tiny_musdb, two_threads):
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend train() must not switch (it plots the loss curves)
    cfg = TrainConfig(root=str(tiny_musdb), output=str(tmp_path / "model"), epochs=1, batch_size=2,
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


def test_a_trainer_keeps_the_callers_process_state_and_its_seed_alone_decides_the_run(tmp_path, tiny_musdb,
                                                                                       one_thread):
    from helpers.process_state import kept

    def tiny(out):
        return TrainConfig(root=str(tiny_musdb), output=str(tmp_path / out), epochs=1, batch_size=2, seq_dur=0.5,
                           samples_per_track=2, nb_workers=0, quiet=True, no_cuda=True, seed=7,
                           dataset_options={"is_wav": True},
                           architecture_options={"hidden_size": 8, "nfft": 512, "nhop": 128})

    torch.manual_seed(1)
    with kept():  # the Trainer itself, not only train(): generators, threads, cuDNN, warnings, umask
        first = Trainer(tiny("first"))
        first.run()
    torch.rand(5)  # the caller's generator elsewhere: the run does not depend on it
    second = Trainer(tiny("second"))
    second.run()
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k]), k

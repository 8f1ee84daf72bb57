"""Training hooks (openunmix.training.callbacks) through Trainer's public interface."""

import json

from conftest import TINY_TRAIN
from openunmix.commands.train import parse_args
from openunmix.training import Trainer
from openunmix.training.callbacks import Callback, CallbackList, EpochRecord, epoch_line

# 2 training tracks x 4 excerpts / batch 4 (conftest's musdb_root, TINY_TRAIN): two optimizer steps per epoch
STEPS_PER_EPOCH = 2


def _config(root, out, *flags):
    return parse_args(["--root", str(root), "--is-wav", "--output", str(out), "--no-cuda", *TINY_TRAIN, *flags])


class Recorder(Callback):
    """Writes down every call, and what the run's files said at the end of each epoch."""

    def __init__(self, stop_at=None):
        self.calls = []
        self.saved_epochs = []
        self.stop_at = stop_at

    def on_message(self, trainer, text):
        self.calls.append(("message", text.split(":")[0]))

    def on_train_start(self, trainer):
        self.calls.append(("train_start", trainer.start_epoch))

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(("epoch_start", epoch))

    def on_step(self, trainer, step):
        self.calls.append(("step", step))
        return step == self.stop_at

    def on_validation(self, trainer, epoch, valid_loss):
        self.calls.append(("validation", epoch))

    def on_save(self, trainer):
        self.calls.append(("save", trainer.state["epoch"]))

    def on_epoch_end(self, trainer, epoch, record):
        assert isinstance(record, EpochRecord) and record.epoch == epoch == trainer.state["epoch"]
        assert record.step == trainer.step == epoch * STEPS_PER_EPOCH
        assert trainer.state["valid_loss_history"][-1] == record.valid_loss
        json_file = trainer.out / "vocals.json"
        self.saved_epochs.append(json.loads(json_file.read_text())["epochs_trained"] if json_file.is_file() else None)
        self.calls.append(("epoch_end", epoch))

    def on_train_end(self, trainer):
        self.calls.append(("train_end", trainer.stop_reason))


def test_hooks_in_order_and_no_defaults_print_or_write_nothing(tmp_path, musdb_root, capsys):
    rec = Recorder()
    out = tmp_path / "quiet"
    trainer = Trainer(_config(musdb_root, out, "--epochs", "2", "--valid-every", "2"), [rec], defaults=False)
    assert trainer.run() == 0
    assert rec.calls == [
        ("message", "dataset statistics"), ("train_start", 1),
        ("epoch_start", 1), ("step", 1), ("step", 2), ("save", 1), ("epoch_end", 1),  # epoch 1: not validated
        ("epoch_start", 2), ("step", 3), ("step", 4), ("validation", 2), ("save", 2), ("epoch_end", 2),
        ("train_end", "epochs"),
    ]
    # without the default callbacks nothing is printed and nothing is written
    assert capsys.readouterr().out == ""
    assert list(out.iterdir()) == []
    assert trainer.state["valid_loss_history"][0] is None and trainer.state["epoch"] == 2


def test_a_callback_stops_the_run_and_the_last_finished_epoch_stays_saved(tmp_path, musdb_root, capsys):
    rec = Recorder(stop_at=STEPS_PER_EPOCH + 1)  # the first step of epoch 2
    out = tmp_path / "stopped"
    trainer = Trainer(_config(musdb_root, out, "--epochs", "3"), callbacks=[rec])
    assert trainer.run() == 0
    assert trainer.stopped and trainer.stop_reason == "callback" and trainer.step == STEPS_PER_EPOCH + 1
    assert rec.calls[-4:] == [("epoch_end", 1), ("epoch_start", 2), ("step", 3), ("train_end", "callback")]
    # the defaults come first: a caller's on_epoch_end finds the epoch saved
    assert rec.saved_epochs == [1]
    info = json.loads((out / "vocals.json").read_text())
    assert info["epochs_trained"] == 1 and info["steps"] == STEPS_PER_EPOCH  # epoch 2 neither validated nor saved
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("dataset statistics: 2 tracks in ")
    assert lines[1].startswith("epoch    1  train ") and " best " in lines[1]
    assert lines[2:] == ["stopped in epoch 2 after 3 steps", f"best model (epoch 1) saved in {out}/vocals.pth"]


def test_callback_list_on_rank_and_stop_votes():
    class Main(Callback):
        main_only = True

        def on_step(self, trainer, step):
            seen.append(("main", step))
            return True

    class Every(Callback):
        def on_step(self, trainer, step):
            seen.append(("every", step))
            return False

    seen = []
    assert CallbackList([Main(), Every()], is_main=True).on_step(None, 1) is True
    assert seen == [("main", 1), ("every", 1)]  # every callback sees the step, even after a stop vote
    seen.clear()
    assert CallbackList([Main(), Every()], is_main=False).on_step(None, 2) is False
    assert seen == [("every", 2)]  # main_only callbacks are left out off rank 0


def test_epoch_line():
    record = EpochRecord(epoch=3, train_loss=0.123456789, valid_loss=None, seconds=12.34, valid_seconds=0.0,
                         data_wait=0.5, lr=0.001, step=6)
    assert epoch_line(record, best=0.1, best_epoch=2) == (
        "epoch    3  train 0.123457  valid -  best 0.1 (epoch 2)  lr 0.001  12.3s")


def test_the_trainer_times_with_its_clock(tmp_path, musdb_root):
    """Data waits, epoch and validation times are counted with ``trainer.clock`` (a CPU-time budget sets
    ``time.process_time``): a clock that advances one second a reading gives whole seconds, one per wait."""

    class Ticks:
        def __init__(self):
            self.now = 0.0

        def __call__(self):
            self.now += 1.0
            return self.now

    trainer = Trainer(_config(musdb_root, tmp_path / "ticks", "--epochs", "2"), defaults=False)
    trainer.clock = Ticks()
    assert trainer.run() == 0
    state = trainer.state
    assert state["data_wait_history"] == [float(STEPS_PER_EPOCH)] * 2  # each batch: one reading before, one after
    assert state["valid_time_history"] == [1.0, 1.0]  # a reading before validation, one after
    assert all(t == int(t) and t > STEPS_PER_EPOCH for t in state["train_time_history"])

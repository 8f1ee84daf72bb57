"""TensorBoard event files of a run (openunmix.training.tensorboard), read back with TensorBoard's own reader."""

import shutil

import pytest

from conftest import TINY_TRAIN
from helpers.training import STEPS_PER_EPOCH, history
from openunmix.commands.train import parse_args
from openunmix.training import Trainer

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _config(root, out, *flags):
    return parse_args(["--root", str(root), "--is-wav", "--output", str(out), "--no-cuda", *TINY_TRAIN, *flags])


def _events(out, stem="vocals"):
    reader = event_accumulator.EventAccumulator(str(out / "tensorboard" / stem),
                                                size_guidance={"scalars": 0, "images": 0, "audio": 0})
    reader.Reload()
    return reader


def _scalars(reader, tag):
    return [(e.step, e.value) for e in reader.Scalars(tag)]


def test_event_files_hold_the_json_history(tmp_path, musdb_root):
    out = tmp_path / "run"
    assert Trainer(_config(musdb_root, out, "--epochs", "3", "--tensorboard-audio-every", "2")).run() == 0
    info, reader = history(out), _events(out)
    steps = [STEPS_PER_EPOCH * e for e in (1, 2, 3)]
    sdr = [h["vocals"] for h in info["valid_sdr_history"]]
    # TensorBoard stores scalars as float32: 6e-8 relative rounding, rel 1e-6
    for tag, expected in (("loss/train", info["train_loss_history"]), ("loss/valid", info["valid_loss_history"]),
                          ("lr", info["lr_history"]), ("sdr/vocals", sdr), ("sdr/mean", sdr)):
        got = _scalars(reader, tag)
        assert [s for s, _ in got] == steps, tag
        assert [v for _, v in got] == pytest.approx(expected, rel=1e-6), tag
    assert [s for s, _ in _scalars(reader, "step/grad_norm")] == list(range(1, 3 * STEPS_PER_EPOCH + 1))
    train_seconds = [t - v for t, v in zip(info["train_time_history"], info["valid_time_history"])]
    share = [w / t for w, t in zip(info["data_wait_history"], train_seconds)]
    assert [v for _, v in _scalars(reader, "time/data_wait_share")] == pytest.approx(share, rel=1e-6)
    # audio and spectrograms at the first validation and every second one after it: epochs 1 and 3
    assert [e.step for e in reader.Audio("audio/vocals")] == [steps[0], steps[2]]
    assert [e.step for e in reader.Images("spectrogram/vocals")] == [steps[0], steps[2]]
    assert [e.step for e in reader.Audio("audio/mixture")] == [steps[0]]  # the sources once
    assert reader.Audio("audio/vocals")[0].sample_rate == 44100


def test_resuming_appends_without_repeating_steps(tmp_path, musdb_root):
    out = tmp_path / "resumed"
    assert Trainer(_config(musdb_root, out, "--epochs", "1")).run() == 0
    shutil.copy(out / "vocals.chkpnt", tmp_path / "epoch1.chkpnt")
    assert Trainer(_config(musdb_root, out, "--epochs", "2", "--checkpoint", str(out))).run() == 0
    # a run killed after epoch 2's events but before its checkpoint: it resumes from epoch 1 again
    shutil.copy(tmp_path / "epoch1.chkpnt", out / "vocals.chkpnt")
    assert Trainer(_config(musdb_root, out, "--epochs", "3", "--checkpoint", str(out))).run() == 0
    assert len(list((out / "tensorboard" / "vocals").glob("events.out.tfevents.*"))) == 3  # one file per run
    info, reader = history(out), _events(out)
    got = _scalars(reader, "loss/train")
    assert [s for s, _ in got] == [STEPS_PER_EPOCH * e for e in (1, 2, 3)]  # epoch 2 once, not twice
    assert [v for _, v in got] == pytest.approx(info["train_loss_history"], rel=1e-6)
    assert [s for s, _ in _scalars(reader, "step/lr")] == list(range(1, 3 * STEPS_PER_EPOCH + 1))


def test_no_tensorboard_writes_no_event_files(tmp_path, musdb_root):
    out = tmp_path / "off"
    assert Trainer(_config(musdb_root, out, "--epochs", "1", "--no-tensorboard")).run() == 0
    assert (out / "vocals.pth").is_file() and not (out / "tensorboard").exists()


def test_an_unwritable_folder_is_one_warning_and_training_goes_on(tmp_path, musdb_root, capsys):
    out = tmp_path / "blocked"
    out.mkdir()
    (out / "tensorboard").write_text("a file where the folder should be")
    assert Trainer(_config(musdb_root, out, "--epochs", "1")).run() == 0
    printed = capsys.readouterr().out.splitlines()
    warnings = [line for line in printed if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: TensorBoard: ")
    assert warnings[0].endswith("; training goes on without event files")
    assert history(out)["epochs_trained"] == 1

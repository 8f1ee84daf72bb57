"""Recipes, learning-rate schedules, validation frequency, bf16 on the CPU and watching a run (train.py)."""

import json
import math

import pytest
import torch

from conftest import TINY_TRAIN, run_script
from openunmix.commands.train import parse_args
from openunmix.distributed import cpu_has_bf16
from openunmix.training import TrainConfig, Trainer
from openunmix.training.callbacks import Callback
from openunmix.training.recipes import RECIPE_FIELDS, RECIPES
from openunmix.training.schedule import FINAL_FRACTION, ONECYCLE_START, shape

# 2 training tracks x 4 excerpts / batch 4: two optimizer steps per epoch
STEPS_PER_EPOCH = 2


def _info(out):
    return json.loads((out / "vocals.json").read_text())


def test_schedule_shapes():
    # linear warm-up to the base rate, then the kind's own shape
    assert [shape("plateau", s, 4, 100) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert shape("cosine", 0, 0, 10) == 1.0
    assert shape("cosine", 5, 0, 10) == pytest.approx((1 + FINAL_FRACTION) / 2, rel=1e-12)
    assert shape("cosine", 10, 0, 10) == pytest.approx(FINAL_FRACTION, rel=1e-12)
    assert shape("cosine", 1000, 0, 10) == pytest.approx(FINAL_FRACTION, rel=1e-12)  # held past the horizon
    assert shape("onecycle", 0, 0, 100) == pytest.approx(ONECYCLE_START, rel=1e-12)
    assert shape("onecycle", 30, 0, 100) == pytest.approx(1.0, rel=1e-12)  # the peak at 30 %
    assert shape("onecycle", 100, 0, 100) == pytest.approx(FINAL_FRACTION, rel=1e-12)
    decay = [shape("cosine", s, 2, 20) for s in range(2, 21)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        shape("linear", 0, 0, 1)


def test_config_defaults_are_the_default_recipe():
    defaults = TrainConfig(root="r", output="o")
    for name in RECIPE_FIELDS:
        if name != "random_track_mix":  # a dataset option, not a TrainConfig field
            assert getattr(defaults, name) == RECIPES["default"][name], name
    cfg = parse_args(["--root", "r"])
    assert cfg.recipe == "default"
    assert cfg.dataset_options.get("random_track_mix") == RECIPES["default"]["random_track_mix"]


def test_recipe_sets_defaults_and_flags_win():
    cfg = parse_args(["--root", "r", "--recipe", "upstream"])
    assert (cfg.seq_dur, cfg.patience, cfg.batch_size, cfg.recipe) == (6.0, 140, 16, "upstream")
    cfg = parse_args(["--root", "r", "--recipe", "upstream", "--seq-dur", "2", "--random-track-mix"])
    assert cfg.seq_dur == 2.0 and cfg.patience == 140 and cfg.dataset_options["random_track_mix"] is True
    cfg = parse_args(["--root", "r", "--recipe", "v1", "--no-random-track-mix"])
    assert cfg.dataset_options["random_track_mix"] is False and cfg.batch_size == 16


def test_unknown_recipe_is_one_line(tmp_path):
    r = run_script("train.py", "--root", tmp_path, "--recipe", "fastest")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--recipe" in r.stderr and "upstream" in r.stderr


def test_cosine_warmup_rates_and_resume(tmp_path, musdb_root):
    flags = ["--root", musdb_root, "--is-wav", "--lr", "0.01", "--lr-schedule", "cosine", "--warmup-steps", "2",
             "--lr-horizon", "6", *TINY_TRAIN]
    out = tmp_path / "whole"
    r = run_script("train.py", "--output", out, "--epochs", "3", *flags)
    assert r.returncode == 0, r.stderr
    info = _info(out)
    assert info["steps"] == 3 * STEPS_PER_EPOCH
    # lr_history holds the rate of each epoch's last step (0-based step index e * 2 - 1)
    want = [0.01 * shape("cosine", e * STEPS_PER_EPOCH - 1, 2, 6) for e in (1, 2, 3)]
    assert info["lr_history"] == pytest.approx(want, rel=1e-12)  # float64 arithmetic of the same formula
    # a run resumed after epoch 2 goes on with the same rates and losses as the uninterrupted one
    part = tmp_path / "part"
    assert run_script("train.py", "--output", part, "--epochs", "2", *flags).returncode == 0
    r = run_script("train.py", "--output", part, "--epochs", "3", "--checkpoint", part, *flags)
    assert r.returncode == 0, r.stderr
    resumed = _info(part)
    assert resumed["lr_history"] == info["lr_history"]
    # same computations in the same order in one kind of process: the same numbers
    assert resumed["train_loss_history"] == info["train_loss_history"]


def test_valid_every_validates_every_nth_and_the_last_epoch(tmp_path, musdb_root):
    out = tmp_path / "v"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "3",
                   "--valid-every", "2", *TINY_TRAIN)
    assert r.returncode == 0, r.stderr
    info = _info(out)
    valid = info["valid_loss_history"]
    assert valid[0] is None and all(math.isfinite(v) for v in valid[1:]), valid
    assert info["valid_time_history"][0] == 0.0 and info["best_epoch"] in (2, 3)
    assert (out / "vocals_loss.png").is_file()


def test_amp_on_cpu_uses_bf16_where_the_cpu_has_it(tmp_path, musdb_root):
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", tmp_path / "amp", "--epochs", "1",
                   "--amp", "--no-cuda", *TINY_TRAIN)
    assert r.returncode == 0, r.stderr
    if cpu_has_bf16():
        assert "bfloat16 autocast" in r.stdout
    else:
        assert "no bfloat16 units" in r.stdout
    assert math.isfinite(_info(tmp_path / "amp")["valid_loss_history"][0])


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
    assert _info(tmp_path / "stopped")["epochs_trained"] == 1  # the partial epoch 2 is neither validated nor saved

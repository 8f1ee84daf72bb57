"""Validation by SDR (openunmix.training.validation): the real separation path, and --select-by."""

import numpy as np
import pytest
import soundfile as sf

from conftest import TINY_TRAIN, run_script
from helpers.training import history
from openunmix.commands.train import parse_args
from openunmix.models.hub import load_separator
from openunmix.separation.separate import separate
from openunmix.training import Trainer


def _config(root, out, *flags):
    return parse_args(["--root", str(root), "--is-wav", "--output", str(out), "--no-cuda", "--no-tensorboard",
                       *TINY_TRAIN, *flags])


def test_validation_sdr_is_the_saved_model_separating_the_validation_track(tmp_path, musdb_root):
    import torch

    out = tmp_path / "run"
    assert Trainer(_config(musdb_root, out, "--epochs", "1")).run() == 0
    recorded = history(out)["valid_sdr_history"][0]["vocals"]
    # the saved model (epoch 1 is the best) separating the one validation track as test.py does
    separator = load_separator(out, targets=["vocals"], device="cpu")
    track = next(p for p in (musdb_root / "train").iterdir() if p.name in (musdb_root / "valid_tracks.txt").read_text())
    mixture, _ = sf.read(str(track / "mixture.wav"), dtype="float32", always_2d=True)
    vocals, _ = sf.read(str(track / "vocals.wav"), dtype="float64", always_2d=True)
    estimate = separate(separator, torch.from_numpy(mixture.T.copy()))[separator.source_names.index("vocals")]
    ref, est = vocals.T, estimate.double().numpy()
    hand = 10 * np.log10((np.sum(ref ** 2) + 1e-7) / (np.sum((ref - est) ** 2) + 1e-7))
    # the same float32 weights and arithmetic, maybe on other kernels: 1e-4 dB
    assert recorded == pytest.approx(hand, abs=1e-4)


def test_select_by_sdr_follows_the_sdr_and_loss_the_loss(tmp_path, musdb_root):
    by_loss = history(_run(tmp_path / "loss", musdb_root, "loss"))
    by_sdr = history(_run(tmp_path / "sdr", musdb_root, "sdr"))
    # the same seeds: the same epochs, judged differently
    assert by_loss["valid_loss_history"] == by_sdr["valid_loss_history"]
    sdr = [h["vocals"] for h in by_sdr["valid_sdr_history"]]
    assert by_sdr["best_epoch"] == int(np.argmax(sdr)) + 1 and by_sdr["select_by"] == "sdr"
    assert by_loss["best_epoch"] == int(np.argmin(by_loss["valid_loss_history"])) + 1
    assert by_sdr["best_sdr"] == {"vocals": max(sdr)}
    assert by_sdr["best_loss"] == by_sdr["valid_loss_history"][by_sdr["best_epoch"] - 1]


def _run(out, root, select_by):
    assert Trainer(_config(root, out, "--epochs", "3", "--select-by", select_by)).run() == 0
    return out


def test_no_valid_sdr_records_none_and_select_by_sdr_needs_it(tmp_path, musdb_root):
    out = tmp_path / "plain"
    assert Trainer(_config(musdb_root, out, "--epochs", "1", "--no-valid-sdr")).run() == 0
    assert history(out)["valid_sdr_history"] == [None] and history(out)["best_sdr"] is None
    proc = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", tmp_path / "x", "--select-by", "sdr",
                      "--no-valid-sdr")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: argument --select-by: sdr needs the validation SDR (drop --no-valid-sdr) (see 'train.py --help')"]
    assert not (tmp_path / "x").exists()

"""train.py end to end on a tiny generated MUSDB-layout dataset: outputs, early stopping, resume, fine-tuning,
names checked before any work, recipes, learning-rate schedules, validation frequency, bf16 on the CPU, and
bad --ema / --clip-grad values."""

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, TINY_TRAIN, make_model_folder, run_script, write_tone
from helpers.datasets import make_musdb
from helpers.training import STEPS_PER_EPOCH, history
from openunmix.distributed import cpu_has_bf16
from openunmix.models.hub import load_separator
from openunmix.training.schedule import shape

TINY = TINY_TRAIN


def test_two_epochs_write_every_output(tmp_path, trained_umx):
    out, r = trained_umx  # train.py --epochs 2 with TINY, run once for the session
    for name in ("vocals.pth", "vocals.json", "vocals.chkpnt", "vocals_loss.png", "separator.json"):
        assert (out / name).is_file(), name
    info = history(out)
    assert info["epochs_trained"] == 2
    assert len(info["train_loss_history"]) == 2 and len(info["valid_loss_history"]) == 2
    assert len(info["train_time_history"]) == 2
    assert info["args"]["nfft"] == 512 and info["args"]["hidden_size"] == 16
    assert info["sample_rate"] == 44100.0
    assert info["best_epoch"] in (1, 2)
    assert info["best_loss"] == pytest.approx(min(info["valid_loss_history"]))  # the same number, stored twice
    assert "epoch    2" in r.stdout and "valid" in r.stdout
    # the folder is a model folder: the best model loads and separates
    sep = load_separator(out)
    assert sep.source_names == ["vocals", "accompaniment"]
    mix = write_tone(tmp_path / "mix.wav", seconds=1.0, rate=44100)
    r = run_script("test.py", out, "--input", mix, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sep" / "mix" / "accompaniment.wav").is_file()
    # input statistics were used: the input normalisation is not the identity
    state = torch.load(out / "vocals.pth", weights_only=True)
    assert not torch.allclose(state["input_scale"], torch.ones_like(state["input_scale"]))


def test_early_stopping_stops_after_patience(tmp_path, musdb_root):
    out = tmp_path / "es"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "30",
                   "--patience", "1", "--lr", "0.05", *TINY)
    assert r.returncode == 0, r.stderr
    valid = history(out)["valid_loss_history"]
    # the first epoch that did not improve on the best so far ends the run (patience 1)
    best = math.inf
    expected = None
    for i, v in enumerate(valid, start=1):
        if v < best:
            best = v
        else:
            expected = i
            break
    assert expected is not None and len(valid) == expected < 30
    assert "early stopping" in r.stdout


def _killed_temporary(path: Path) -> Path:
    """What a process SIGKILLed while writing ``path`` leaves: its temporary file (utils.atomic_path)."""
    code = ("import sys, time\n"
            "from openunmix.utils import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    open(tmp, 'wb').write(b'half a png')\n"
            "    print(tmp, flush=True)\n"
            "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert tmp.is_file() and tmp.parent == path.parent and tmp.name.startswith(f".{path.name}.tmp-")
    return tmp


def test_kill_and_resume_gives_the_same_history(tmp_path, musdb_root, trained_umx):
    # the uninterrupted reference is the session's two-epoch run of the same arguments
    args = ["--root", musdb_root, "--is-wav", "--epochs", "2", *TINY]
    ref, _ = trained_umx

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *map(str, args), "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "vocals.chkpnt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the kill may land between the checkpoint and the other files: the checkpoint decides
    done = torch.load(out / "vocals.chkpnt", weights_only=True)["state"]["epoch"]
    # and while the loss plot was being written: its temporary stays behind
    leftover = _killed_temporary(out / "vocals_loss.png")
    r = run_script("train.py", *args, "--output", out, "--checkpoint", out)
    assert r.returncode == 0, r.stderr
    # the next run into the folder removed what the killed ones left
    assert not leftover.exists() and not [p.name for p in out.iterdir() if p.name.startswith(".")]
    if done < 2:
        assert f"resuming at epoch {done + 1}" in r.stdout
    a, b = history(ref), history(out)
    # the same path: runs on this machine with the same kernels, thread count, data and per-epoch seeds,
    # the resumed one from an exact copy of the weights and optimizer state, so the histories are equal
    # bitwise (measured); the tolerance is kept
    np.testing.assert_allclose(b["train_loss_history"], a["train_loss_history"], rtol=1e-4)
    np.testing.assert_allclose(b["valid_loss_history"], a["valid_loss_history"], rtol=1e-4)
    assert b["best_epoch"] == a["best_epoch"]


def test_fine_tune_from_model_folder(tmp_path, musdb_root, trained_umx):
    base = trained_umx[0]  # only read
    out = tmp_path / "tuned"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "1",
                   "--model", base, *TINY)
    assert r.returncode == 0, r.stderr
    a = torch.load(base / "vocals.pth", weights_only=True)
    b = torch.load(out / "vocals.pth", weights_only=True)
    assert torch.equal(a["input_mean"], b["input_mean"]) or not torch.allclose(a["fc1.weight"], b["fc1.weight"])


def test_names_are_checked_before_any_work(tmp_path, musdb_root):
    """A flag that names something that does not exist: one line listing what exists, nothing written."""
    other = make_model_folder(tmp_path / "drums_only", targets=("drums",), n_fft=512, n_hop=128)
    cases = [
        (["--target", "kazoo"], 1, ["kazoo", "vocals, drums, bass, other, accompaniment"]),
        (["--dataset", "kazoo"], 2, ["--dataset", "'musdb'", "'trackfolder_var'"]),
        (["--architecture", "kazoo"], 2, ["--architecture", "'umx'", "'xumx'"]),
        (["--model", other], 1, ["no model for target 'vocals'", "available: drums"]),
    ]
    for flags, status, words in cases:
        out = tmp_path / "o"
        r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "1", *TINY, *flags)
        assert r.returncode == status, (flags, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("error:"), (flags, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and all(w in r.stderr for w in words), (flags, r.stderr)
        assert not out.exists(), flags


def test_empty_root_is_one_line_error(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    r = run_script("train.py", "--root", tmp_path / "empty", "--is-wav", "--output", tmp_path / "o", *TINY)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error:")


def test_loader_workers_give_the_same_training(tmp_path, musdb_root, trained_umx):
    runs = {0: history(trained_umx[0])["train_loss_history"]}  # the session's run has --nb-workers 0
    for workers in (2,):
        out = tmp_path / f"w{workers}"
        r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "2",
                       "--nb-workers", str(workers), *TINY)
        assert r.returncode == 0, r.stderr
        runs[workers] = history(out)["train_loss_history"]
    # the same path: loader workers only read and augment the same items (the items do not depend on the
    # workers, tests/data/test_musdb.py), the training runs on this machine with the same kernels and thread
    # count, so the losses are equal bitwise (measured); the tolerance is kept
    np.testing.assert_allclose(runs[2], runs[0], rtol=1e-5)


# --------------------------------------------------------------------------- recipes, schedules, validation, bf16


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
    info = history(out)
    assert info["steps"] == 3 * STEPS_PER_EPOCH
    # lr_history holds the rate of each epoch's last step (0-based step index e * 2 - 1)
    want = [0.01 * shape("cosine", e * STEPS_PER_EPOCH - 1, 2, 6) for e in (1, 2, 3)]
    assert info["lr_history"] == pytest.approx(want, rel=1e-12)  # float64 arithmetic of the same formula
    # a run resumed after epoch 2 goes on with the same rates and losses as the uninterrupted one
    part = tmp_path / "part"
    assert run_script("train.py", "--output", part, "--epochs", "2", *flags).returncode == 0
    r = run_script("train.py", "--output", part, "--epochs", "3", "--checkpoint", part, *flags)
    assert r.returncode == 0, r.stderr
    resumed = history(part)
    assert resumed["lr_history"] == info["lr_history"]
    # same computations in the same order in one kind of process: the same numbers
    assert resumed["train_loss_history"] == info["train_loss_history"]


def test_valid_every_validates_every_nth_and_the_last_epoch(tmp_path, musdb_root):
    out = tmp_path / "v"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "3",
                   "--valid-every", "2", *TINY_TRAIN)
    assert r.returncode == 0, r.stderr
    info = history(out)
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
    assert math.isfinite(history(tmp_path / "amp")["valid_loss_history"][0])


# --------------------------------------------------------------------------- names checked against the data


def test_train_with_an_unknown_target_ends_in_one_line(tmp_path):
    root = make_musdb(tmp_path / "musdb", names=("A - one", "B - two"), seconds=0.5, mixture=False)
    (root / "valid_tracks.txt").write_text("B - two\n")
    proc = run_script("train.py", "--root", root, "--is-wav", "--target", "kazoo",
                      "--output", tmp_path / "out", "--epochs", "1")
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: unknown MUSDB target 'kazoo'; choose one of vocals, drums, bass, other, accompaniment\n"
    )


def test_bad_augmentation_flags_are_one_line_errors(tmp_path, musdb_root):
    """The variety-per-step flags are checked before any work: a bad value, or a flag the layout does not take."""
    cases = [  # the other values: tests/commands/test_train.py (in process)
        (["--remix-prob", "1.5"], "argument --remix-prob: expected a probability in [0, 1], got 1.5"),
        (["--dataset", "aligned", "--repitch-prob", "0.3"], "argument --repitch-prob: not an option of --dataset aligned"),
    ]
    for flags, words in cases:
        out = tmp_path / "o"
        r = run_script("train.py", "--root", musdb_root, "--output", out, "--epochs", "1", *TINY, *flags)
        assert r.returncode == 2 and r.stderr.startswith(f"error: {words}"), (flags, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and not out.exists(), flags


# --------------------------------------------------------------------------- weight averaging, gradient clipping


def test_bad_ema_and_clip_grad_are_one_line(tmp_path, musdb_root):
    for flags, words in ((["--ema", "1"], "argument --ema: expected a finite number > 0 and < 1, got '1'"),
                         (["--ema", "0"], "argument --ema: expected a finite number > 0 and < 1, got '0'"),
                         (["--clip-grad", "0"], "argument --clip-grad: expected a finite number > 0, got '0'")):
        out = tmp_path / "o"
        r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, *TINY, *flags)
        assert r.returncode == 2, (flags, r.stderr)
        assert r.stderr.startswith(f"error: {words}") and r.stderr.count("\n") == 1, (flags, r.stderr)
        assert not out.exists(), flags

"""Bad input, silence, unsafe model files and interrupted training: the scripts end to end (test.py, train.py,
eval.py), each problem in one line. Silence and extremes through the Separator: tests/separation/test_separator.py."""

import json
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, TINY_TRAIN, copy_tree, make_model_folder, run_script, write_tone


def _one_error_line(r, *needles):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert lines, r.stderr
    for n in needles:
        assert any(n in l for l in lines), (n, r.stderr)


def _bad_inputs(tmp: pathlib.Path):
    cases = {}
    (tmp / "empty.wav").write_bytes(b"")
    cases["empty.wav"] = "empty file"
    (tmp / "text.wav").write_text("hello, not audio\n" * 10)
    cases["text.wav"] = "not a readable audio file"
    good = write_tone(tmp / "full.wav", seconds=0.5)
    (tmp / "truncated.wav").write_bytes(good.read_bytes()[:30])
    cases["truncated.wav"] = "not a readable audio file"
    sf.write(str(tmp / "zero.wav"), np.zeros((0, 2), np.float32), 16000)
    cases["zero.wav"] = "too short"
    sf.write(str(tmp / "one.wav"), np.zeros((1, 2), np.float32), 16000)
    cases["one.wav"] = "too short"
    sf.write(str(tmp / "six.wav"), np.zeros((1000, 6), np.float32), 16000)
    cases["six.wav"] = "has 6 channels, the model takes 2"
    nan = np.zeros((4000, 2), np.float32)
    nan[100] = np.nan
    sf.write(str(tmp / "nan.wav"), nan, 16000, subtype="FLOAT")
    cases["nan.wav"] = "audio holds NaN or Inf samples"
    inf = np.zeros((4000, 2), np.float32)
    inf[3900] = np.inf
    sf.write(str(tmp / "inf.wav"), inf, 16000, subtype="FLOAT")
    cases["inf.wav"] = "audio holds NaN or Inf samples"
    cases["missing.wav"] = "no such file"
    return cases


def test_test_py_bad_inputs_one_line_each_no_partial_output(tmp_path, model_dir):
    cases = _bad_inputs(tmp_path)
    good = write_tone(tmp_path / "good.wav")
    tiny = write_tone(tmp_path / "tiny.wav", seconds=0.005)  # 80 samples: shorter than one STFT frame
    files = [tmp_path / name for name in cases] + [good, tiny]
    out = tmp_path / "sep"
    r = run_script("test.py", model_dir, "--input", *files, "--outdir", out, "--quiet")
    assert r.returncode == 1
    for name, msg in cases.items():
        _one_error_line(r, f"{name}: {msg}")
        folder = out / pathlib.Path(name).stem
        assert not folder.exists() or not any(folder.iterdir()), f"partial output for {name}"
    assert f"{len(cases)} of {len(files)} input files failed" in r.stderr
    for name in ("good", "tiny"):
        for src in ("vocals", "drums"):
            assert (out / name / f"{src}.wav").is_file()
    assert sf.info(str(out / "tiny" / "vocals.wav")).frames == 80


def test_test_py_model_folder_problems(tmp_path):
    song = write_tone(tmp_path / "song.wav")
    r = run_script("test.py", tmp_path / "nope", "--input", song, "--outdir", tmp_path / "o")
    _one_error_line(r, "model folder does not exist")

    m = make_model_folder(tmp_path / "m")
    r = run_script("test.py", m, "--input", song, "--targets", "bass", "--outdir", tmp_path / "o")
    _one_error_line(r, "no model for target 'bass'", "available: drums, vocals")

    (m / "drums.pth").unlink()
    r = run_script("test.py", m, "--input", song, "--targets", "drums", "--outdir", tmp_path / "o")
    _one_error_line(r, "drums.pth: missing model weights file")

    m2 = make_model_folder(tmp_path / "m2")
    (m2 / "vocals.json").write_text('{"args": {"nfft": 512')
    r = run_script("test.py", m2, "--input", song, "--outdir", tmp_path / "o")
    _one_error_line(r, "vocals.json: malformed json")

    m3 = make_model_folder(tmp_path / "m3")
    cfg = json.loads((m3 / "vocals.json").read_text())
    cfg["nfft"] = 1024
    cfg["args"]["nfft"] = 1024
    (m3 / "vocals.json").write_text(json.dumps(cfg))
    r = run_script("test.py", m3, "--input", song, "--outdir", tmp_path / "o")
    _one_error_line(r, "shapes do not match vocals.json")

    cfg["nfft"] = -5
    (m3 / "vocals.json").write_text(json.dumps(cfg))
    r = run_script("test.py", m3, "--input", song, "--outdir", tmp_path / "o")
    _one_error_line(r, "'nfft'=-5 is out of range")

    m4 = make_model_folder(tmp_path / "m4")
    (m4 / "vocals.json").unlink()
    r = run_script("test.py", m4, "--input", song, "--targets", "vocals", "--outdir", tmp_path / "o")
    _one_error_line(r, "vocals.json: missing model settings file")


def test_unwritable_output_folder(tmp_path, model_dir):
    song = write_tone(tmp_path / "song.wav")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_script("test.py", model_dir, "--input", song, "--outdir", blocker / "out", "--quiet")
    _one_error_line(r, "cannot create output folder")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_malicious_model_file_is_refused_and_runs_nothing(tmp_path):
    m = make_model_folder(tmp_path / "m", targets=("vocals",))
    marker = tmp_path / "pwned"
    torch.save({"fc1.weight": _Evil(str(marker))}, m / "vocals.pth")
    song = write_tone(tmp_path / "song.wav")
    r = run_script("test.py", m, "--input", song, "--outdir", tmp_path / "o")
    _one_error_line(r, "vocals.pth: refused")
    assert not marker.exists()


def test_silent_file_gives_silent_files(tmp_path, model_dir):
    sf.write(str(tmp_path / "silence.wav"), np.zeros((16000, 2), np.float32), 16000)
    r = run_script("test.py", model_dir, "--input", tmp_path / "silence.wav", "--outdir", tmp_path / "o",
                   "--niter", "1", "--no-softmask", "--residual", "--quiet")
    assert r.returncode == 0, r.stderr
    for src in ("vocals", "drums", "residual"):
        y, _ = sf.read(str(tmp_path / "o" / "silence" / f"{src}.wav"))
        assert np.all(y == 0)  # exactly: products with the silent mixture, not rounding


def test_killed_separation_leftovers_are_removed_by_the_next_run(tmp_path, model_dir):
    from openunmix.utils import temporary_prefix

    song = write_tone(tmp_path / "long.wav", seconds=300.0)  # long enough to be caught while writing
    out, folder = tmp_path / "o", tmp_path / "o" / "long"
    args = [model_dir, "--input", song, "--outdir", out, "--segment", "1", "--overlap", "0.1", "--quiet"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "test.py"), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(folder.glob(".*.tmp-*")):
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no clean-up of its own
    proc.wait()
    left = sorted(p.name for p in folder.glob(".*.tmp-*"))
    assert left and all(f"-{proc.pid}-" in name for name in left), left  # the killed run's temporary outputs
    live = folder / f"{temporary_prefix('vocals.wav')}x.wav"  # a run of a live process (this one) writing there
    live.write_bytes(b"")
    (tmp_path / "short").mkdir()
    short = write_tone(tmp_path / "short" / "long.wav", seconds=1.0)  # separated into the same folder, quickly
    r = run_script("test.py", model_dir, "--input", short, "--outdir", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, "drums.wav", "vocals.wav"])


@pytest.fixture
def small_musdb(tmp_path, musdb_root):
    """A copy of the session's tiny dataset that the test may change."""
    return copy_tree(musdb_root, tmp_path / "data")


def test_ctrl_c_saves_and_exits_cleanly_then_resumes(tmp_path, small_musdb):
    out = tmp_path / "run"
    args = ["--root", small_musdb, "--is-wav", "--epochs", "1000", *TINY_TRAIN, "--output", out]
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "vocals.chkpnt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted" in err
    done = json.loads((out / "vocals.json").read_text())["epochs_trained"]
    assert done >= 1
    torch.load(out / "vocals.chkpnt", weights_only=True)  # intact
    r = run_script("train.py", *args[:-2], "--epochs", str(done + 1), "--output", out, "--checkpoint", out)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "vocals.json").read_text())["epochs_trained"] == done + 1


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, small_musdb, trained_umx):
    # two good epochs: the session's run of the same arguments (on the same audio), copied
    out = copy_tree(trained_umx[0], tmp_path / "run")
    args = ["--root", small_musdb, "--is-wav", *TINY_TRAIN, "--output", out]
    before_pth = torch.load(out / "vocals.pth", weights_only=True)
    before_json = json.loads((out / "vocals.json").read_text())
    # a source whose samples are finite but overflow the float32 spectrogram
    for track in (small_musdb / "train").iterdir():
        if "train" in track.name:
            data, rate = sf.read(str(track / "drums.wav"), dtype="float32")
            sf.write(str(track / "drums.wav"), np.full_like(data, 3e38), rate, subtype="FLOAT")
    r = run_script("train.py", *args, "--epochs", "4", "--checkpoint", out)
    _one_error_line(r, "loss became", "last good checkpoint")
    # the files still describe the last good epoch
    chk = torch.load(out / "vocals.chkpnt", weights_only=True)
    assert chk["state"]["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in chk["model"].values() if v.is_floating_point())
    after_pth = torch.load(out / "vocals.pth", weights_only=True)
    assert all(torch.equal(before_pth[k], after_pth[k]) for k in before_pth)  # the file was not rewritten
    after_json = json.loads((out / "vocals.json").read_text())
    assert after_json["epochs_trained"] == 2
    assert after_json["valid_loss_history"] == before_json["valid_loss_history"]


def test_malicious_checkpoint_is_refused(tmp_path, small_musdb):
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "pwned"
    torch.save({"model": _Evil(str(marker))}, out / "vocals.chkpnt")
    r = run_script("train.py", "--root", small_musdb, "--is-wav", *TINY_TRAIN, "--output", out, "--checkpoint", out)
    _one_error_line(r, "vocals.chkpnt: refused")
    assert not marker.exists()


def test_training_dataset_problems(tmp_path, small_musdb):
    r = run_script("train.py", "--root", tmp_path / "nothing", "--is-wav", *TINY_TRAIN, "--output", tmp_path / "o")
    _one_error_line(r)
    victim = next(t for t in (small_musdb / "train").iterdir() if "train" in t.name)
    (victim / "bass.wav").unlink()
    r = run_script("train.py", "--root", small_musdb, "--is-wav", *TINY_TRAIN, "--output", tmp_path / "o")
    _one_error_line(r, "bass.wav")


def _errors(r):
    assert "Traceback" not in r.stderr, r.stderr
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


def test_other_scripts_check_flags_in_one_line(tmp_path):
    for script, args, needle in [
        ("eval.py", ["--root", tmp_path, "--cores", "0"], "--cores"),
        ("eval.py", ["--root", tmp_path, "--niter", "nan"], "--niter"),
        ("train.py", ["--root", tmp_path, "--lr", "inf"], "--lr"),
        ("train.py", ["--root", tmp_path, "--nhop", "8192"], "--nhop"),
        ("train.py", ["--root", tmp_path, "--nb-workers", "-2"], "--nb-workers"),
        ("train.py", ["--root", tmp_path, "--lr-decay-gamma", "1.5"], "--lr-decay-gamma"),
    ]:
        r = run_script(script, *args)
        assert r.returncode == 2, (script, args, r.stderr)
        errors = _errors(r)
        assert len(r.stderr.strip().splitlines()) == 1 and len(errors) == 1 and needle in errors[0], r.stderr


def test_training_set_smaller_than_a_batch_is_an_error_not_a_zero_loss(tmp_path):
    from openunmix.demo import generate_dataset

    root = generate_dataset(tmp_path / "data", seed=3, nb_train=1, nb_valid=1, nb_test=0, duration=2.0)
    out = tmp_path / "model"
    r = run_script("train.py", "--root", root, "--is-wav", "--output", out, "--epochs", "1", "--hidden-size", "16",
                   "--nfft", "512", "--nhop", "128", "--seq-dur", "1.0", "--samples-per-track", "3",
                   "--batch-size", "4", "--quiet")
    assert r.returncode != 0
    errors = _errors(r)
    assert len(errors) == 1 and "fewer than one batch of 4" in errors[0], r.stderr
    assert not (out / "vocals.pth").exists()

"""X-UMX (CrossNet-Open-Unmix): the model's bridges, its losses by hand, joint training, resume, separation."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT, fft_round_trip_atol, run_script, split_batch_rtol, sum_rtol, write_tone
from openunmix import losses
from openunmix.demo import generate_dataset
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models
from openunmix.architectures.umx import OpenUnmix
from openunmix.architectures import list_targets
from openunmix.transforms import ISTFT, STFT
from openunmix.architectures import xumx
from openunmix.architectures.xumx import CrossNetOpenUnmix

TARGETS = ["vocals", "drums", "bass", "other"]
TINY = ["--architecture", "xumx", "--hidden-size", "8", "--nb-layers", "1", "--nfft", "512", "--nhop", "256",
        "--batch-size", "4", "--seq-dur", "1.0", "--samples-per-track", "4", "--quiet", "--no-cuda"]


def _tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    m = CrossNetOpenUnmix(TARGETS, nb_bins=129, nb_channels=2, hidden_size=8, nb_layers=2, max_bin=100, **kw)
    with torch.no_grad():  # non-trivial scalings and batch-norm statistics
        for b in m.branches.values():
            b.input_scale.uniform_(0.5, 2.0)
            b.output_scale.uniform_(0.5, 1.5)
            for bn in (b.bn1, b.bn2, b.bn3):
                bn.running_mean.uniform_(-0.1, 0.1)
                bn.running_var.uniform_(0.5, 1.5)
    return m.eval()


# ---------------------------------------------------------------- model


@pytest.mark.numerics
def test_shapes_and_branch_parameter_names():
    m = _tiny_model()
    mag = torch.rand(3, 2, 129, 7)
    out = m(mag)
    assert out.shape == (3, 2, 129, 7, 4)
    assert (out >= 0).all()
    names = set(m.state_dict())
    assert "branches.vocals.fc1.weight" in names and "branches.other.lstm.weight_ih_l1_reverse" in names
    # a branch holds exactly the parameters of an Open-Unmix model, under upstream names
    single = OpenUnmix(nb_bins=129, nb_channels=2, hidden_size=8, nb_layers=2, max_bin=100)
    prefix = "branches.drums."
    branch = {k[len(prefix):]: v for k, v in m.state_dict().items() if k.startswith(prefix)}
    single.load_state_dict(branch, strict=True)
    # no weights beyond the four branches
    assert sum(p.numel() for p in m.parameters()) == 4 * sum(p.numel() for p in single.parameters())
    # a subset of outputs, in the asked order, equals the matching slices
    full = out
    m.select_targets(["bass", "vocals"])
    assert m.targets == ["bass", "vocals"]
    # the whole joint model runs either way (the bridges need every branch): the same operations in one
    # process, equal bitwise (measured); assert_close's float32 default is kept
    torch.testing.assert_close(m(mag), full[..., [2, 0]])
    with pytest.raises(ValueError):
        m.select_targets(["piano"])
    # TorchScript compiles it (for exports), with the same outputs: it calls the same ATen kernels and fuses
    # nothing on the CPU, so they are equal bitwise (measured under every kernel); the default is kept
    torch.testing.assert_close(torch.jit.script(m)(mag), full[..., [2, 0]])


@pytest.mark.numerics
def test_bridges_average_encoders_and_skips():
    m = _tiny_model()
    mag = torch.rand(2, 2, 129, 6)
    with torch.no_grad():
        out = m(mag)
        # by hand: mean of the encoder outputs into every LSTM, mean of [h_i || lstm_i] into every decoder
        branches = [m.branches[t] for t in TARGETS]
        hs = [b.encode(mag) for b in branches]
        h_mean = sum(hs) / 4
        skips = [torch.cat([h, b.lstm(h_mean)[0]], -1) for h, b in zip(hs, branches)]
        skip = sum(skips) / 4
        by_hand = torch.stack([b.decode(skip, mag) for b in branches], -1)
        # the model's own encode, lstm and decode; only the two means of 4 terms may be summed in another
        # order: 4 eps32 = 4.8e-7 relative (conftest.sum_rtol), within assert_close's float32 default
        # (rtol 1.3e-6); measured equal
        torch.testing.assert_close(out, by_hand)
        # the branches do not run alone: each target differs from its branch as a plain Open-Unmix
        for i, b in enumerate(branches):  # they differ by 0.01 to 0.26, rounding by 1e-7
            assert not torch.allclose(out[..., i], b(mag))
        # changing only the drums branch changes the vocals estimate (both bridges carry it)
        branches[1].fc1.weight.mul_(-1.5)
        assert not torch.allclose(m(mag)[..., 0], out[..., 0])
        branches[1].fc1.weight.div_(-1.5)
        branches[1].lstm.weight_hh_l0.add_(0.5)  # only bridge 2 carries the drums LSTM to the vocals
        assert not torch.allclose(m(mag)[..., 0], out[..., 0])


# ---------------------------------------------------------------- losses


def _np_wsdr(est, ref, mix, eps=losses.EPS):
    """Weighted SDR loss of one signal pair, from the formula."""
    n, n_hat = mix - ref, mix - est

    def cos(a, b):
        return np.dot(a, b) / (np.sqrt(np.dot(a, a) + eps) * np.sqrt(np.dot(b, b) + eps))

    alpha = np.dot(ref, ref) / (np.dot(ref, ref) + np.dot(n, n) + eps)
    return -(alpha * cos(ref, est) + (1 - alpha) * cos(n, n_hat))


def test_weighted_sdr_loss_by_hand():
    rng = np.random.default_rng(0)
    ref, noise, err = (rng.standard_normal((2, 3, 500)) for _ in range(3))
    mix = ref + noise
    est = ref + 0.3 * err
    got = losses.weighted_sdr_loss(*(torch.from_numpy(a) for a in (est, ref, mix)))
    want = np.mean([_np_wsdr(est[b, c], ref[b, c], mix[b, c]) for b in range(2) for c in range(3)])
    # float64 against numpy's float64: dot products of 500 samples (500 eps64 = 1.1e-13 relative each,
    # in any order), a few of them per term of the mean: ~1e-12, well inside rel 1e-10
    assert float(got) == pytest.approx(want, rel=1e-10)
    # the perfect estimate scores -1, its negation +1. Not rounding: the regulariser EPS = 1e-8 beside
    # <r, r> >= 400 moves each cosine by EPS / <r, r> <= 2.5e-11
    t = torch.from_numpy
    assert float(losses.weighted_sdr_loss(t(ref), t(ref), t(mix))) == pytest.approx(-1.0, abs=1e-9)
    assert float(losses.weighted_sdr_loss(-t(ref), t(ref), t(mix))) > 0.0


def test_groupings():
    assert len(xumx.source_groups(4, combination=True)) == 14
    assert xumx.source_groups(4, combination=False) == [(0,), (1,), (2,), (3,)]
    assert (0, 1, 2) in xumx.source_groups(4) and (0, 1, 2, 3) not in xumx.source_groups(4)


@pytest.mark.numerics
@pytest.mark.parametrize("combination", [True, False])
def test_multi_domain_loss_by_hand(combination):
    rng = np.random.default_rng(1)
    mag_est, mag_ref = rng.random((2, 2, 2, 9, 5, 4))
    wav_est, wav_ref = rng.standard_normal((2, 2, 4, 2, 300))
    mix = wav_ref.sum(1) + 0.1 * rng.standard_normal((2, 2, 300))  # not exactly the sum of the sources
    total, freq, time = xumx.multi_domain_loss(
        *(torch.from_numpy(a) for a in (mag_est, mag_ref, wav_est, wav_ref, mix)), mcoef=10.0,
        combination=combination)
    groups = [[0], [1], [2], [3]]
    if combination:
        groups += [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3], [0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]
    f = np.mean([np.mean((mag_est[..., g].sum(-1) - mag_ref[..., g].sum(-1)) ** 2) for g in groups])
    t = np.mean([
        np.mean([_np_wsdr(wav_est[b, g].sum(0)[c], wav_ref[b, g].sum(0)[c], mix[b, c])
                 for b in range(2) for c in range(2)])
        for g in groups
    ])
    # float64 throughout: means over <= 2 * 2 * 9 * 5 terms and dot products of 300 samples, a few eps64
    # times that (~1e-13) in any order; rel 1e-10
    assert float(freq) == pytest.approx(f, rel=1e-10)
    assert float(time) == pytest.approx(t, rel=1e-10)
    assert float(total) == pytest.approx(f + 10.0 * t, rel=1e-10)


@pytest.mark.numerics
def test_masked_waveforms_use_the_mixture_phase():
    stft, istft = STFT(256, 64), ISTFT(256, 64)
    x = torch.randn(2, 2, 2000, dtype=torch.float64)
    X = stft(x)
    # the mixture's own magnitude gives the mixture back; half of it gives half the mixture
    mags = torch.stack([X.abs(), 0.5 * X.abs()], -1)
    wav = losses.masked_waveforms(mags, X, istft, 2000)
    assert wav.shape == (2, 2, 2, 2000)
    # float64 STFT round trips: (2 log2(256) + 4) eps64 |x| = 1.8e-14 for |x| <= 4 (as in
    # conftest.fft_round_trip_atol), far inside assert_close's float64 default (1e-7)
    torch.testing.assert_close(wav[:, 0], x)
    torch.testing.assert_close(wav[:, 1], 0.5 * x)


# ---------------------------------------------------------------- training and separation


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("xdata") / "demo", seed=5, nb_train=2, nb_valid=1,
                            nb_test=1, duration=2.0)


def test_musdb_items_carry_every_target(musdb_root):
    from openunmix.data import load_datasets

    train, valid = load_datasets("musdb", musdb_root, seq_duration=0.5, samples_per_track=2, is_wav=True,
                                 joint_targets=TARGETS)
    for ds in (train, valid):
        x, y = ds[1 if ds is train else 0]
        assert y.shape == (4,) + tuple(x.shape)
        # augmented sources, stacked in target order, sum to the mixture: float32 sums of 4 sources, maybe
        # in another order: 4 eps32 of the sum of their sizes (conftest.sum_rtol); measured equal
        torch.testing.assert_close(y.sum(0), x, atol=sum_rtol(4) * float(y.abs().sum(0).max()), rtol=0)
    single_train, _ = load_datasets("musdb", musdb_root, target="drums", seq_duration=0.5, samples_per_track=2,
                                    is_wav=True)
    # the same draws and augmentations read from the same files: equal bitwise; the default is kept
    torch.testing.assert_close(single_train[1][1], train[1][1][1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, musdb_root):
    out = tmp_path_factory.mktemp("xumx") / "model"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "2", *TINY)
    assert r.returncode == 0, r.stderr
    return out


def _history(out):
    return json.loads((out / "xumx.json").read_text())


def test_joint_training_writes_a_model_folder_and_lowers_the_loss(trained):
    for name in ("xumx.pth", "xumx.json", "xumx.chkpnt", "xumx_loss.png", "separator.json"):
        assert (trained / name).is_file(), name
    info = _history(trained)
    assert info["architecture"] == "xumx" and info["targets"] == TARGETS
    assert info["args"]["mcoef"] == 10.0 and info["args"]["combination"] is True
    train_loss = info["train_loss_history"]
    assert len(train_loss) == 2 and all(math.isfinite(v) for v in train_loss)
    assert train_loss[-1] < train_loss[0]
    state = torch.load(trained / "xumx.pth", weights_only=True)
    assert "branches.bass.fc1.weight" in state
    # statistics initialisation: every branch starts from the mixture statistics
    assert not torch.allclose(state["branches.vocals.input_scale"], torch.ones(1))
    assert list_targets(trained) == TARGETS
    assert json.loads((trained / "separator.json").read_text())["targets"] == TARGETS


def test_resume_repeats_the_uninterrupted_run(tmp_path, musdb_root, trained):
    out = tmp_path / "resumed"
    args = ["--root", musdb_root, "--is-wav", "--output", out, *TINY]
    assert run_script("train.py", *args, "--epochs", "1").returncode == 0
    r = run_script("train.py", *args, "--epochs", "2", "--checkpoint", out)
    assert r.returncode == 0, r.stderr
    assert "resuming at epoch 2" in r.stdout
    a, b = _history(trained), _history(out)
    # the same path: runs on this machine with the same kernels, thread count, data and per-epoch seeds,
    # the resumed one from an exact copy of the weights and optimizer state, so the histories are equal
    # bitwise (measured); the tolerance is kept
    np.testing.assert_allclose(b["train_loss_history"], a["train_loss_history"], rtol=1e-5)
    np.testing.assert_allclose(b["valid_loss_history"], a["valid_loss_history"], rtol=1e-5)
    # an Open-Unmix run cannot resume from it: no vocals.chkpnt there
    r = run_script("train.py", *args[:-len(TINY)], *TINY[2:], "--epochs", "3", "--checkpoint", out)
    assert r.returncode != 0 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_folder_separates_with_the_existing_scripts_and_api(tmp_path, musdb_root, trained):
    models, config = load_target_models(trained)
    assert list(models) == ["xumx"] and models["xumx"].targets == TARGETS and config.n_fft == 512
    sep = load_separator(trained, filter=FilterSettings(niter=1))
    assert sep.source_names == TARGETS
    audio = torch.rand(2, 44100) - 0.5
    with torch.no_grad():
        est = sep(audio[None])
    assert est.shape == (1, 4, 2, 44100) and torch.isfinite(est).all()
    # the ratio mask splits the mixture: the four estimates sum back to it
    with torch.no_grad():
        est0 = load_separator(trained, filter=FilterSettings(niter=0))(audio[None])
    # the 4 masks sum to 1 within 4 eps32; each source is an STFT -> mask -> inverse STFT round trip
    # (conftest.fft_round_trip_atol): 4 * 1.2e-6 + 2.4e-7 for |audio| <= 0.5
    peak = float(audio.abs().max())
    torch.testing.assert_close(est0.sum(1)[0], audio, atol=4 * fft_round_trip_atol(512, 256, peak) + sum_rtol(4) * peak,
                               rtol=0)
    # a subset of targets: the joint model still runs whole, the residual is the rest
    sub = load_separator(trained, targets=["drums"], filter=FilterSettings(niter=0))
    assert sub.source_names == ["drums", "residual"]
    with torch.no_grad():  # the same joint model on the same input: equal bitwise; the default is kept
        torch.testing.assert_close(sub.estimate_magnitudes(sub.complexnorm(sub.stft(audio[None]))),
                                   sep.estimate_magnitudes(sep.complexnorm(sep.stft(audio[None])))[..., [1]])

    mix = write_tone(tmp_path / "mix.wav", seconds=1.0, rate=44100)
    r = run_script("test.py", trained, "--input", mix, "--outdir", tmp_path / "sep", "--niter", "1")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "sep" / "mix").iterdir()) == sorted(f"{t}.wav" for t in TARGETS)

    r = run_script("eval.py", trained, "--root", musdb_root, "--is-wav", "--subset", "test", "--niter", "1",
                   "--outdir", tmp_path / "est", "--evaldir", tmp_path / "eval", "--cores", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "eval" / "results.csv").read_text()
    assert all(t in table for t in TARGETS)


def test_bad_xumx_settings_are_one_line_errors(tmp_path, musdb_root, trained):
    base = ["--root", musdb_root, "--is-wav", "--output", tmp_path / "o", "--epochs", "1", *TINY]
    r = run_script("train.py", *base, "--mcoef", "nan")
    assert r.returncode == 2 and "--mcoef" in r.stderr and "Traceback" not in r.stderr
    r = run_script("train.py", *base, "--dataset", "aligned")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "musdb" in r.stderr
    # a damaged xumx.json
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("xumx.pth", "separator.json"):
        (broken / name).write_bytes((trained / name).read_bytes())
    info = _history(trained)
    info["targets"] = ["vocals"]
    (broken / "xumx.json").write_text(json.dumps(info))
    r = run_script("test.py", broken, "--input", write_tone(tmp_path / "m.wav", seconds=0.5, rate=44100),
                   "--outdir", tmp_path / "s")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "targets" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.numerics
def test_torchrun_two_processes_follow_one(tmp_path, musdb_root, trained):
    """DDP (gloo): the joint model's batch norms span the global batch, as for Open-Unmix."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "train.py"), "--root", str(musdb_root), "--is-wav", "--output", str(out), "--epochs", "2", *TINY]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = _history(trained), _history(out)
    assert b["world_size"] == 2
    # the tolerance of each value from the computation (conftest.split_batch_rtol): a batch of 4 excerpts
    # of 1 s at hop 256 reduces 4 * 173 frames; 2 tracks * 4 excerpts per epoch make 2 steps of 4, so
    # epoch e's training loss is measured after at most 2e - 1 updates, its validation loss after 2e.
    # The loss's one longer reduction, the Gram matrix of the magnitude errors over all 4 * 2 * 257 * 173
    # values, is summed in float64 (xumx._Gram): as a float32 product it was off by 4e-4 on MKL's SSE4.2
    # path (make test-numerics), the Zen 3 failure of issue 17
    rows, steps = 4 * (1 + 44100 // 256), 2 * 4 // 4
    for e, (got, want) in enumerate(zip(b["train_loss_history"], a["train_loss_history"]), start=1):
        assert got == pytest.approx(want, rel=split_batch_rtol(rows, e * steps - 1)), ("train", e)
    for e, (got, want) in enumerate(zip(b["valid_loss_history"], a["valid_loss_history"]), start=1):
        assert got == pytest.approx(want, rel=split_batch_rtol(rows, e * steps)), ("valid", e)
    assert len(b["train_loss_history"]) == len(a["train_loss_history"]) == 2
    assert len(b["valid_loss_history"]) == len(a["valid_loss_history"]) == 2

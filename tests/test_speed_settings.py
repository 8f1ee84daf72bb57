"""Process-wide settings survive the package's functions; reduced-precision separation."""

import matplotlib
import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import make_model_folder, run_script, write_tone
from openunmix import data
from openunmix.demo import generate_dataset
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.precision import PrecisionError, check_precision, cpu_has_native_bfloat16
from openunmix.separation.separate import SeparationSettings, separate
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


# ---------------------------------------------------------------- reduced precision


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored afterwards (OpenMP threads spin for seconds on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.numerics
@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_reduced_precision_close_to_float32(tmp_path, precision, one_thread):
    folder = make_model_folder(tmp_path / "model")
    audio = torch.from_numpy(sf.read(str(write_tone(tmp_path / "mix.wav", seconds=2.0)), dtype="float32")[0].T.copy())
    ref_sep = load_separator(folder, filter=FilterSettings(niter=1))
    if precision == "bfloat16" and cpu_has_native_bfloat16() is False:
        with pytest.warns(UserWarning, match="emulated"):  # slower than float32 on such CPUs: said so
            sep = load_separator(folder, filter=FilterSettings(niter=1), precision=precision)
    else:
        sep = load_separator(folder, filter=FilterSettings(niter=1), precision=precision)
    assert sep.source_names == ref_sep.source_names
    ref = separate(ref_sep, audio)
    got = separate(sep, audio)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert torch.isfinite(got).all()
    rel = float((got - ref).norm() / ref.norm())
    # changed (the option does something), but only a little. A bound on the quantization, not on float32
    # rounding (1e-6 here, on any kernel): bfloat16 keeps 8 bits (u = 2**-8 per rounding, measured 1.8e-3
    # with native and with emulated bfloat16 kernels); int8 rounds weights and activations to 255 and 127
    # steps, products accumulate exactly in int32 (7-bit activations: AVX2's 16-bit pair sums cannot
    # saturate), so its error, 1.55e-2 here, is the same on every x86 CPU
    assert 0 < rel < 0.02
    # the float32 separator's models are untouched
    assert next(ref_sep.target_models["vocals"].parameters()).dtype == torch.float32


def test_precision_flag_end_to_end(tmp_path):
    folder = make_model_folder(tmp_path / "model")
    mix = write_tone(tmp_path / "song.wav", seconds=2.0)
    outs = {}
    for precision in ("float32", "int8"):
        r = run_script("test.py", folder, "--input", mix, "--outdir", tmp_path / precision, "--niter", "1",
                       "--precision", precision, "--no-cuda", "--quiet")
        assert r.returncode == 0, r.stderr
        outs[precision] = sf.read(str(tmp_path / precision / "song" / "vocals.wav"))[0]
    assert outs["int8"].shape == outs["float32"].shape
    # int8's quantization (see test_reduced_precision_close_to_float32), not rounding: a quality bound
    assert np.abs(outs["int8"] - outs["float32"]).max() < 0.05 * np.abs(outs["float32"]).max()
    r = run_script("test.py", folder, "--input", mix, "--precision", "fp16")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: ") and "--precision" in r.stderr


def test_int8_refused_off_the_cpu(tmp_path):
    with pytest.raises(PrecisionError, match="CPU only"):
        check_precision("int8", torch.device("cuda"))
    # refused before any model is loaded or moved
    with pytest.raises(PrecisionError, match="CPU only"):
        load_separator(make_model_folder(tmp_path / "model"), device="cuda", precision="int8")
    with pytest.raises(ValueError, match="^precision must be one of"):
        SeparationSettings(precision="half")

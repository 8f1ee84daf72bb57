"""openunmix.separation.separator: the Separator's sources, its filter and inverse STFT, target models side by
side, silence and extremes."""

import threading

import numpy as np
import pytest
import torch

from conftest import fft_round_trip_atol, make_model_folder, sum_rtol
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.separation.separate import separate


@pytest.mark.numerics
def test_separator_shapes_and_mixture_consistency(model_dir):
    sep = load_separator(model_dir)
    assert sep.targets == ["drums", "vocals"]
    assert sep.source_names == ["drums", "vocals"]
    x = torch.rand(2, 2, 16000) - 0.5
    with torch.inference_mode():
        y = sep(x)
    assert y.shape == (2, 2, 2, 16000)
    # ratio mask over all sources: the estimates add up to the mixture
    res = load_separator(model_dir, filter=FilterSettings(niter=0, residual=True))
    assert res.source_names == ["drums", "vocals", "residual"]
    with torch.inference_mode():
        y = res(x)
    # the 3 masks sum to 1 within 3 eps32 (conftest.sum_rtol); each source is an STFT -> mask -> inverse STFT
    # round trip (conftest.fft_round_trip_atol): 3 * 1.3e-6 + 1.8e-7 for |x| <= 0.5; measured 1.8e-7
    scale = float(x.abs().max())
    assert torch.allclose(y.sum(1), x, rtol=0, atol=3 * fft_round_trip_atol(512, 128, scale) + sum_rtol(3) * scale)


def test_single_target_gets_accompaniment(tmp_path):
    make_model_folder(tmp_path, targets=("vocals",))
    sep = load_separator(tmp_path)
    assert sep.source_names == ["vocals", "accompaniment"]
    make_model_folder(tmp_path / "b", targets=("bass",))
    assert load_separator(tmp_path / "b").source_names == ["bass", "residual"]


@pytest.mark.numerics
def test_separator_filter_then_istft_equals_forward(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1, wiener_win_len=7))
    x = torch.rand(2, 2, 6000) - 0.5
    with torch.inference_mode():
        X = sep.stft(x)
        V = sep.estimate_magnitudes(sep.complexnorm(X))
        Y = sep.filter_spectrum(V, X)
        assert Y.shape == (2, 2, 2, X.shape[2], X.shape[3])
        # forward inverts the same filtered spectrum window by window (OverlapAdd) instead of at once: two
        # inverse FFTs and overlap-adds of the same frames in other orders (conftest.fft_round_trip_atol:
        # 1.3e-6 for |x| <= 0.5); measured 9e-8
        whole = sep(x)
        atol = fft_round_trip_atol(512, 128, float(whole.abs().max()))
        assert torch.allclose(sep.istft(Y, length=6000), whole, rtol=0, atol=atol)


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("openunmix-")]


@pytest.mark.numerics
def test_target_models_side_by_side_equal_one_after_the_other(tmp_path):
    model = make_model_folder(tmp_path / "model", targets=("vocals", "drums", "bass"))
    sep = load_separator(model, filter=FilterSettings(niter=1, wiener_win_len=50))  # 6 filter windows
    x = torch.from_numpy((np.random.default_rng(2).standard_normal((1, 2, 16000 * 2)) * 0.2).astype(np.float32))
    mag = sep.complexnorm(sep.stft(x))
    threads = torch.get_num_threads()
    results = {}
    for parallel in (False, True):
        sep.parallel_targets = sep.parallel_filter = parallel
        with torch.inference_mode():
            results[parallel] = (sep.estimate_magnitudes(mag), sep(x))
        assert torch.get_num_threads() == threads  # the caller's thread count is kept
        assert not _pipeline_threads()
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [threads]  # and so is the count that threads started later take
    # the same models on the same input; only the thread count of each model's kernels may differ (the
    # caller's against one per worker), which reorders sums: fc1 (2 channels x 200 bins), the LSTM gates
    # (16 inputs + 8 recurrent), fc2 (32), fc3 (16), and the filter's sums over a window's 50 frames (the
    # statistics) and 5 sources (the mixture covariance); the inverse STFT runs alike in both
    rtol = sum_rtol(400, 24, 32, 16, 50, 5)
    for a, b in zip(results[True], results[False]):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * float(b.abs().max()))
    # an error in a worker is raised in the caller, after every worker is joined
    sep.parallel_targets = sep.parallel_filter = True
    with pytest.raises(RuntimeError), torch.inference_mode():
        sep.estimate_magnitudes(mag[:, :, :100])
    assert not _pipeline_threads()


@pytest.mark.parametrize("niter", [0, 1, 2])
@pytest.mark.parametrize("softmask", [True, False])
@pytest.mark.parametrize("residual", [False, True])
def test_silence_in_silence_out_and_extremes_finite(model_dir, niter, softmask, residual):
    sep = load_separator(model_dir, filter=FilterSettings(niter=niter, softmask=softmask, residual=residual))
    zeros = separate(sep, torch.zeros(2, 8000))
    # exactly 0, not rounding: every estimate is a product with the silent mixture's spectrum
    assert torch.isfinite(zeros).all() and zeros.abs().max() == 0
    t = torch.arange(8000) / 16000
    quiet = 1e-9 * torch.sin(2 * torch.pi * 300 * t).repeat(2, 1)
    loud = torch.sign(torch.sin(2 * torch.pi * 300 * t)).repeat(2, 1)  # full-scale square wave
    for x in (quiet, loud):
        y = separate(sep, x)
        assert torch.isfinite(y).all()

"""openunmix.losses: the weighted SDR loss by hand, waveforms masked with the mixture's phase."""

import numpy as np
import pytest
import torch

from helpers.oracles import np_wsdr
from openunmix import losses
from openunmix.transforms import ISTFT, STFT


def test_weighted_sdr_loss_by_hand():
    rng = np.random.default_rng(0)
    ref, noise, err = (rng.standard_normal((2, 3, 500)) for _ in range(3))
    mix = ref + noise
    est = ref + 0.3 * err
    got = losses.weighted_sdr_loss(*(torch.from_numpy(a) for a in (est, ref, mix)))
    want = np.mean([np_wsdr(est[b, c], ref[b, c], mix[b, c]) for b in range(2) for c in range(3)])
    # float64 against numpy's float64: dot products of 500 samples (500 eps64 = 1.1e-13 relative each,
    # in any order), a few of them per term of the mean: ~1e-12, well inside rel 1e-10
    assert float(got) == pytest.approx(want, rel=1e-10)
    # the perfect estimate scores -1, its negation +1. Not rounding: the regulariser EPS = 1e-8 beside
    # <r, r> >= 400 moves each cosine by EPS / <r, r> <= 2.5e-11
    t = torch.from_numpy
    assert float(losses.weighted_sdr_loss(t(ref), t(ref), t(mix))) == pytest.approx(-1.0, abs=1e-9)
    assert float(losses.weighted_sdr_loss(-t(ref), t(ref), t(mix))) > 0.0


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

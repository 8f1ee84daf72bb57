"""The whole-track metrics (uSDR, SI-SDR) against independent computations."""

import numpy as np
import pytest

from openunmix.metrics import sisdr, usdr


def _signals(seed=0, channels=2, samples=44100):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((channels, samples))
    est = 0.7 * ref + 0.2 * rng.standard_normal((channels, samples)) + 0.05 * np.roll(ref, 3, axis=1)
    return ref, est


def test_usdr_is_the_challenge_formula():
    ref, est = _signals()
    # the MDX 2021 evaluator's definition, written out here on its own: one ratio over every channel and sample
    # of a song, 1e-7 added to both energies
    energy = sum(float(v) ** 2 for v in ref.ravel())
    error = sum((float(a) - float(b)) ** 2 for a, b in zip(ref.ravel(), est.ravel()))
    hand = 10 * np.log10((energy + 1e-7) / (error + 1e-7))
    # float64 sums of 88200 terms in two orders: about 88200 * 1.1e-16 relative, i.e. 4e-11 dB; abs 1e-8
    assert usdr(ref, est) == pytest.approx(hand, abs=1e-8)


def test_usdr_of_a_perfect_and_a_silent_estimate():
    ref, _ = _signals(1)
    # the epsilon bounds a perfect estimate: 10 log10((E + 1e-7) / 1e-7)
    assert usdr(ref, ref) == pytest.approx(10 * np.log10((np.sum(ref ** 2) + 1e-7) / 1e-7), rel=1e-12)
    assert usdr(ref, np.zeros_like(ref)) == pytest.approx(0.0, abs=1e-12)  # nothing estimated: 0 dB
    assert usdr(np.zeros_like(ref), np.zeros_like(ref)) == 0.0  # silent reference, silent estimate: 0 dB, not NaN


def test_sisdr_is_le_roux_s_projection():
    ref, est = _signals(2)
    hand = []
    for r, e in zip(ref, est):
        # the projection of the estimate on the reference by least squares, computed independently
        alpha = np.linalg.lstsq(r[:, None], e, rcond=None)[0][0]
        target = alpha * r
        hand.append(10 * np.log10(np.dot(target, target) / np.dot(e - target, e - target)))
    # the metric adds 1e-7 to energies of about 3e4 (3e-12 relative) and sums in another order: abs 1e-8 dB
    assert sisdr(ref, est) == pytest.approx(np.mean(hand), abs=1e-8)


def test_sisdr_ignores_the_scale_of_the_estimate_and_usdr_does_not():
    ref, est = _signals(3)
    # scaling the estimate changes the energies by 0.25 exactly: SI-SDR moves by rounding only (1e-9 dB)
    assert sisdr(ref, 0.5 * est) == pytest.approx(sisdr(ref, est), abs=1e-9)
    assert abs(usdr(ref, 0.5 * est) - usdr(ref, est)) > 1.0


def test_sisdr_matches_torchmetrics():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.audio")
    ref, est = _signals(4)
    theirs = tm.scale_invariant_signal_distortion_ratio(torch.from_numpy(est), torch.from_numpy(ref))  # (channels,)
    # torchmetrics adds float64's eps (2.2e-16) where we add 1e-7 to energies of about 3e4: 3e-12 relative, far
    # below the 1e-8 dB allowed for sums of 44100 float64 terms in other orders
    assert sisdr(ref, est) == pytest.approx(float(theirs.mean()), abs=1e-8)


def test_shapes_must_agree():
    ref, est = _signals(5)
    with pytest.raises(ValueError, match="same shape"):
        usdr(ref, est[:, :-1])
    with pytest.raises(ValueError, match="same shape"):
        sisdr(ref[0], est[0])

"""The torch Wiener filter against norbert (the reference implementation) in float64."""

import dataclasses

import numpy as np
import pytest
import torch

norbert = pytest.importorskip("norbert")

from conftest import FLOAT32_EPS, sum_rtol  # noqa: E402
from openunmix import filtering  # noqa: E402

# against norbert (numpy), float32 against float64, TorchScript against eager: checked under each kernel
# and thread count (make test-numerics)
pytestmark = pytest.mark.numerics

# The tolerance against norbert. Both run in float64 and start the EM from the same scaled estimates, so
# only rounding differs: sums over <= 30 frames and 2x2 / 3x3 inversions of C_x = sum_j v_j R_j +
# sqrt(eps) I, whose condition numbers are <= 2.1e3 for these inputs, move each EM iteration's result by
# ~30 * 2.1e3 * eps64 = 1.4e-11 at most; over 3 iterations 4.2e-11 (measured 7e-14).
NORBERT_RTOL = 1e-10


def _inputs(shape, seed):
    frames, bins, channels, sources = shape
    rng = np.random.default_rng(seed)
    v = rng.random((frames, bins, channels, sources)) ** 2 * 4
    x = (rng.standard_normal((frames, bins, channels)) + 1j * rng.standard_normal((frames, bins, channels))) * 3
    return v, x


def _rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("shape", [(20, 33, 2, 3), (12, 10, 1, 2), (9, 7, 3, 2), (30, 40, 2, 4), (5, 6, 2, 1)])
@pytest.mark.parametrize("iterations", [0, 1, 3])
@pytest.mark.parametrize("softmask", [True, False])
@pytest.mark.parametrize("residual", [False, True])
def test_wiener_matches_norbert(shape, iterations, softmask, residual):
    v, x = _inputs(shape, seed=sum(shape) + iterations)
    vv = norbert.contrib.residual_model(v.copy(), x.copy()) if residual else v.copy()
    expected = norbert.wiener(vv, x.copy(), iterations, use_softmask=softmask)
    got = filtering.wiener(torch.from_numpy(v), torch.from_numpy(x), iterations, softmask, residual)
    assert got.dtype == torch.complex128
    assert got.shape == expected.shape
    assert _rel_err(got.numpy(), expected) < NORBERT_RTOL


def test_wiener_large_mixture_scaling_matches_norbert():
    v, x = _inputs((15, 20, 2, 3), seed=3)
    x = x * 100.0  # exercises the max_abs rescaling
    expected = norbert.wiener(v.copy() * 100, x.copy(), 2)
    got = filtering.wiener(torch.from_numpy(v * 100), torch.from_numpy(x), 2)
    assert _rel_err(got.numpy(), expected) < NORBERT_RTOL


def test_residual_model_matches_norbert():
    v, x = _inputs((10, 12, 2, 2), seed=1)
    expected = norbert.contrib.residual_model(v.copy(), x.copy(), alpha=2)
    got = filtering.residual_model(torch.from_numpy(v), torch.from_numpy(x), alpha=2)
    # float64 sums over 10 frames and 2 sources and one division: ~12 eps64 = 2.7e-15 relative; 1e-10 is far
    # above any summation order's effect (measured 1e-16) and far below a formula difference
    assert _rel_err(got.numpy(), expected) < 1e-10


def test_ratio_mask_with_logit_compression():
    v, x = _inputs((6, 5, 2, 2), seed=2)
    mask = v / (np.finfo(np.float64).eps + v.sum(-1, keepdims=True))
    compressed = 1.0 / (1.0 + np.exp(-15.0 * (mask - 0.3)))
    got = filtering.ratio_mask(torch.from_numpy(v), torch.from_numpy(x), logit=0.3).numpy()
    # float64, elementwise: a sum of 2 sources, a division, and exp (a few ulp in torch's and numpy's
    # kernels) whose error the slope 15 amplifies by at most 15/4: ~20 eps64 = 4e-15 relative; rtol 1e-12
    np.testing.assert_allclose(got, compressed * x[..., None], rtol=1e-12)
    plain = filtering.ratio_mask(torch.from_numpy(v), torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(plain, norbert.softmask(v, x.copy()), rtol=1e-12)


def test_alpha_exponent():
    v, x = _inputs((6, 5, 2, 3), seed=4)
    expected = norbert.wiener(v.copy() ** 2, x.copy(), 1)
    got = filtering.wiener(torch.from_numpy(v), torch.from_numpy(x), 1, alpha=2.0)
    assert _rel_err(got.numpy(), expected) < NORBERT_RTOL


def test_float32_close_to_float64_and_finite_on_silence():
    v, x = _inputs((20, 30, 2, 3), seed=5)
    ref = filtering.wiener(torch.from_numpy(v), torch.from_numpy(x), 1).numpy()
    got = filtering.wiener(torch.from_numpy(v).float(), torch.from_numpy(x).to(torch.complex64), 1).numpy()
    # float32 regularises C_x with sqrt(eps32) = 3.5e-4 instead of sqrt(eps64) = 1.5e-8, on entries of order
    # one (the mixture is scaled to |x| <= 10): ~3.5e-4 relative where the output is largest; its rounding
    # (sums over 20 frames: 20 eps32 = 2.4e-6) is negligible beside it. The tolerance is 3 times the
    # regulariser's share (measured 1.04e-4 under every kernel)
    assert _rel_err(got, ref) < 3 * FLOAT32_EPS**0.5  # 1.04e-3
    zeros = filtering.wiener(torch.zeros(8, 9, 2, 2), torch.zeros(8, 9, 2, dtype=torch.complex64), 2, residual=True)
    # exactly 0, not rounding: every estimate is a product with the silent mixture
    assert torch.isfinite(torch.view_as_real(zeros)).all() and zeros.abs().max() == 0


@pytest.mark.parametrize("residual", [False, True])
def test_bin_chunks_do_not_change_the_result(residual):
    v, x = _inputs((25, 37, 2, 3), seed=7)
    v, x = torch.from_numpy(v), torch.from_numpy(x)
    whole = filtering.wiener(v, x, 2, residual=residual)
    chunked = filtering.wiener(v, x, 2, residual=residual, bin_chunk=5)
    # every bin is filtered on its own (sums run over frames and sources, never bins): only the vector
    # kernels' handling of the shorter chunks can differ, by a few eps64 per operation on values <= 11
    # (~100 operations: 100 * 11 * eps64 = 2.4e-13); measured 1e-14
    assert torch.allclose(whole, chunked, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("changes,name", [
    (dict(niter=-1), "niter"), (dict(niter=1.5), "niter"), (dict(niter=True), "niter"),
    (dict(alpha=0), "alpha"), (dict(alpha=float("nan")), "alpha"), (dict(alpha="2"), "alpha"),
    (dict(logit=1.0), "logit"), (dict(logit=0), "logit"), (dict(softmask=None), "softmask"),
    (dict(residual="yes"), "residual"), (dict(wiener_win_len=0), "wiener_win_len"), (dict(bin_chunk=-3), "bin_chunk"),
])
def test_filter_settings_refuse_bad_values_naming_the_setting(changes, name):
    with pytest.raises(ValueError) as info:
        filtering.FilterSettings(**changes)
    message = str(info.value)
    assert message.startswith(f"{name} ") and "\n" not in message


def test_filter_settings_normalise_types():
    settings = filtering.FilterSettings(niter=np.int64(2), alpha=2, logit=np.float32(0.25), wiener_win_len=None)
    assert type(settings.niter) is int and type(settings.alpha) is float and type(settings.logit) is float
    assert settings == filtering.FilterSettings(niter=2, alpha=2.0, logit=0.25, wiener_win_len=None)


def test_filter_settings_default_to_one_em_iteration_and_travel_as_one_value():
    """Upstream's umx and its published scores use niter 1; the filter functions take FilterArgs."""
    assert filtering.FilterSettings().niter == 1
    args = filtering.FilterSettings(niter=2, softmask=False, alpha=2, logit=0.25, residual=True).args()
    assert args == filtering.FilterArgs(niter=2, softmask=False, alpha=2.0, logit=0.25, residual=True,
                                        wiener_win_len=300, bin_chunk=256)
    assert args._fields == tuple(f.name for f in dataclasses.fields(filtering.FilterSettings))
    whole = filtering.FilterSettings(wiener_win_len=None, bin_chunk=None).args()  # None: 0, all at once
    assert (whole.wiener_win_len, whole.bin_chunk) == (0, 0)


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_window_loop_compiles_with_torchscript_and_gives_the_same(channels):
    """The exported separator runs filter_windows (and the filter functions it calls) compiled."""
    scripted = torch.jit.script(filtering.filter_windows)
    gen = torch.Generator().manual_seed(channels)
    V = torch.rand(2, channels, 21, 17, 2, generator=gen) * 3  # (batch, channels, bins, frames, targets)
    X = torch.randn(2, channels, 21, 17, dtype=torch.complex64, generator=gen) * 4
    for settings in (filtering.FilterSettings(niter=0, wiener_win_len=None, bin_chunk=None),
                     filtering.FilterSettings(niter=2, alpha=1.5, logit=0.3, residual=True, wiener_win_len=5,
                                              bin_chunk=7),
                     filtering.FilterSettings(niter=1, softmask=False, residual=True, wiener_win_len=None,
                                              bin_chunk=None)):
        args = settings.args()
        expected = filtering.filter_windows(V, X, args)
        assert expected.shape == (2, 2 + args.residual, channels, 21, 17)
        # the same operations in the same order; only a fusing executor could round differently (float32:
        # a few eps per step, a few steps): 1e-5 relative, absolute on values of order 1-10
        torch.testing.assert_close(scripted(V, X, args), expected, rtol=1e-5, atol=1e-5)
    # window by window: each window is the filter on its frames alone
    whole = filtering.filter_windows(V, X, filtering.FilterSettings(niter=1, wiener_win_len=5, bin_chunk=None).args())
    one = filtering.wiener(V[1, ..., 5:10, :].permute(2, 1, 0, 3), X[1, ..., 5:10].permute(2, 1, 0), 1)
    # the same operations on the same 5 frames, from memory laid out otherwise, which can change the order
    # of the 5-frame sums: 5 eps32 = 6e-7 relative (conftest.sum_rtol); assert_close's float32 default
    # (rtol 1.3e-6, atol 1e-5 on values of order 1-10) covers it
    torch.testing.assert_close(whole[1, ..., 5:10], one.permute(3, 2, 1, 0))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("iterations", [1, 3])
@pytest.mark.parametrize("residual", [False, True])
def test_fused_em_equals_the_one_before_in_the_separators_layout(dtype, iterations, residual):
    v, x = _inputs((50, 37, 2, 3), seed=11 + iterations)
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    # the separator's layout: channels, bins, frames (, targets) in memory, seen frames first
    V = torch.from_numpy(np.ascontiguousarray(v.transpose(2, 1, 0, 3))).to(dtype).permute(2, 1, 0, 3)
    X = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0))).to(complex_dtype).permute(2, 1, 0)
    args = filtering.FilterSettings(niter=iterations, residual=residual, bin_chunk=7).args()
    fused = filtering._wiener(V, X, args, None, True)
    before = filtering._wiener(V, X, args, None, False)
    # the same arithmetic in another order: sums over the 50 frames (and 3-4 sources) taken by other
    # kernels, |y|^2 as |y| squared, the factor 1/2 folded into other products: per iteration about
    # (50 + 4 + 10) rounding steps, amplified by C_x's inversion (condition <= 2.1e3 here, NORBERT_RTOL's
    # note) only where outputs are small beside the largest. float64: 3 iterations x 64 x eps64 = 4e-14
    # is the bound used with a factor 25 of margin (measured 8e-16); float32: sum_rtol over the same
    # steps, 3 x 64 x eps32 = 2.3e-5 (measured 5.4e-7 under default and AVX2 kernels)
    rtol = 1e-12 if dtype == torch.float64 else sum_rtol(*(3 * [64]))
    assert _rel_err(fused.numpy(), before.numpy()) < rtol
    if dtype == torch.float64:  # and both against the oracle
        vv = norbert.contrib.residual_model(v.copy(), x.copy()) if residual else v.copy()
        expected = norbert.wiener(vv, x.copy(), iterations)
        assert _rel_err(fused.numpy(), expected) < NORBERT_RTOL

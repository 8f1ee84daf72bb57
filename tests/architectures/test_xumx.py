"""X-UMX (CrossNet-Open-Unmix, openunmix.architectures.xumx): the model's bridges and its multi-domain loss by
hand. Joint training, resume and separation end to end: tests/programs/test_xumx.py."""

import numpy as np
import pytest
import torch

from helpers.oracles import np_wsdr
from openunmix.architectures import xumx
from openunmix.architectures.umx import OpenUnmix
from openunmix.architectures.xumx import CrossNetOpenUnmix

TARGETS = ["vocals", "drums", "bass", "other"]


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
        np.mean([np_wsdr(wav_est[b, g].sum(0)[c], wav_ref[b, g].sum(0)[c], mix[b, c])
                 for b in range(2) for c in range(2)])
        for g in groups
    ])
    # float64 throughout: means over <= 2 * 2 * 9 * 5 terms and dot products of 300 samples, a few eps64
    # times that (~1e-13) in any order; rel 1e-10
    assert float(freq) == pytest.approx(f, rel=1e-10)
    assert float(time) == pytest.approx(t, rel=1e-10)
    assert float(total) == pytest.approx(f + 10.0 * t, rel=1e-10)

import pytest
import torch

from conftest import fft_round_trip_atol
from openunmix.transforms import ComplexNorm, make_filterbanks, nb_frames

# float32 FFTs: their rounding depends on the kernel (MKL, AVX2/AVX-512) and is checked on each (make test-numerics)
pytestmark = pytest.mark.numerics


@pytest.mark.parametrize("n_fft,n_hop", [(4096, 1024), (512, 128), (1024, 256)])
@pytest.mark.parametrize("samples", [100, 4000, 44100 + 7])
def test_stft_istft_round_trip(n_fft, n_hop, samples):
    torch.manual_seed(0)
    stft, istft = make_filterbanks(n_fft, n_hop)
    x = torch.randn(2, 2, samples)
    X = stft(x)
    assert X.is_complex()
    assert X.shape == (2, 2, n_fft // 2 + 1, nb_frames(samples, n_fft, n_hop))
    y = istft(X, length=samples)
    assert y.shape == x.shape
    # two float32 FFTs and an overlap-add (conftest.fft_round_trip_atol): 1.1e-5 to 1.5e-5 for these
    # sizes and |x| <= 4.6; measured at most 1.2e-6 under the default, AVX2 and AVX-512 kernels
    assert (y - x).abs().max() < fft_round_trip_atol(n_fft, n_hop, float(x.abs().max()))


def test_magnitude_and_mono_downmix():
    stft, _ = make_filterbanks(512, 128)
    x = torch.randn(3, 2, 2000)
    X = stft(x)
    mag = ComplexNorm()(X)
    # ComplexNorm is these very operations (abs, then the mean over channels) in the same process: equal to
    # the last bit; allclose's default tolerance is kept
    assert torch.allclose(mag, X.abs())
    mono = ComplexNorm(mono=True)(X)
    assert mono.shape == (3, 1, 257, X.shape[-1])
    assert torch.allclose(mono[:, 0], X.abs().mean(1))


def test_window_not_in_state_dict():
    stft, istft = make_filterbanks()
    assert len(stft.state_dict()) == 0 and len(istft.state_dict()) == 0


def test_overlap_add_in_pieces_equals_istft():
    from openunmix.transforms import OverlapAdd

    torch.manual_seed(1)
    stft, istft = make_filterbanks(512, 128)
    x = torch.randn(3, 2, 5000)
    X = stft(x)
    ola = OverlapAdd((3, 2), X.shape[-1], 512, 128, stft.window)
    for t in range(0, X.shape[-1], 7):
        ola.add(X[..., t : t + 7], t)
    y = ola.result(5000)
    # each is an inverse FFT and an overlap-add of the same frames, in other orders: their difference is
    # within the round trip's bound (conftest.fft_round_trip_atol, 1.1e-5 here); measured 7e-7
    atol = fft_round_trip_atol(512, 128, float(x.abs().max()))
    assert torch.allclose(y, istft(X, length=5000), rtol=0, atol=atol)
    assert (y - x).abs().max() < atol


def test_overlap_add_hop_not_dividing_fft():
    from openunmix.transforms import OverlapAdd

    stft, istft = make_filterbanks(500, 120)
    x = torch.randn(2, 3000)
    X = stft(x[None])[0]
    ola = OverlapAdd((2,), X.shape[-1], 500, 120, stft.window)
    for t in range(0, X.shape[-1], 4):
        ola.add(X[..., t : t + 4], t)
    # a round trip (conftest.fft_round_trip_atol; 500 = 2^2 * 5^3 points: mixed-radix stages, about
    # log2(500) of them): 1.0e-5 for |x| <= 3.7; measured 9.5e-7
    assert torch.allclose(ola.result(3000), x, rtol=0, atol=fft_round_trip_atol(500, 120, float(x.abs().max())))

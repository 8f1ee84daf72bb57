"""BS-RoFormer and Mel-RoFormer against the authors' reference package (``bs-roformer`` 0.4.1, the test extra).

The same random weights go into the reference model and, through ``python -m openunmix.convert``'s library
call, into a model folder of this package; the folder's Separator (whole input, no chunks) must give the
reference's waveforms. Also: the bands (the published ones, mel bands against librosa, which the reference
uses), the 0 Hz bin, the chunked overlap-add, and the settings' one-line errors.
"""

import math

import numpy as np
import pytest
import torch

from conftest import fft_round_trip_atol, sum_rtol
from helpers.roformers import HOP, N_FFT, reference_model, write_msst
from openunmix import architectures
from openunmix.architectures import ArchitectureError
from openunmix.architectures.roformer import (PUBLISHED_BANDS, BandRoFormer, contiguous_bands, default_widths,
                                              format_widths, mel_bands, parse_widths)
from openunmix.convert import convert_msst
from openunmix.models.hub import load_separator
from openunmix.separation.steps import chunked


def _tolerance(section, frames: int, bands: int, scale: float) -> float:
    """Ours and the reference differ in the order of their sums only (fused attention against einsum and
    softmax, other layouts of the same matrix products): per transformer layer the reductions over the
    queries/keys/values (dim), the attention (tokens), its output (heads * dim_head), the feed-forward
    (dim, then 4 * dim) and the norms (dim); then the band split (the widest band's 2 * channels * bins), the
    mask MLPs (dim, 4 * dim) and the STFT round trip (sum_rtol, conftest)."""
    dim, inner = section["dim"], section["heads"] * section["dim_head"]
    layer = lambda tokens: 3 * dim + tokens + inner + dim + 4 * dim  # noqa: E731
    chain = section["depth"] * (section["time_transformer_depth"] * layer(frames)
                                + section["freq_transformer_depth"] * layer(bands))
    chain += 2 * 2 * 129 + dim + 4 * dim * 2
    return sum_rtol(chain) * scale + fft_round_trip_atol(N_FFT, HOP, scale)


CASES = [
    ("bs_roformer", 1, {}),
    ("bs_roformer", 2, {"time_transformer_depth": 2, "freq_transformer_depth": 1, "mask_estimator_depth": 1}),
    ("bs_roformer", 1, {"stereo": False, "freqs_per_bands": [4] * 32 + [129]}),
    ("mel_band_roformer", 1, {}),
    ("mel_band_roformer", 2, {"num_bands": 8, "depth": 1, "heads": 4, "dim_head": 8, "mask_estimator_depth": 2}),
]


@pytest.mark.numerics
@pytest.mark.parametrize("kind,stems,settings", CASES)
def test_separation_equals_the_reference(tmp_path, kind, stems, settings):
    ref, section = reference_model(kind, stems=stems, **settings)
    section["zero_dc"] = False  # the reference (0.4.1) keeps the 0 Hz bin; MSST's default drops it
    instruments = ["vocals", "drums", "other"][: max(2, stems)]
    config, ckpt = write_msst(tmp_path, kind, ref, section, instruments=instruments,
                              target="vocals" if stems == 1 else "")
    folder = convert_msst(config, ckpt, tmp_path / "model")
    separator = load_separator(folder)
    separator.chunk_size = 0  # the whole input at once, as the reference's forward takes it
    channels = 2 if section.get("stereo", True) else 1
    x = torch.from_numpy(np.random.default_rng(1).uniform(-0.5, 0.5, (1, channels, 20000)).astype(np.float32))
    with torch.no_grad():
        expected = ref(x if channels == 2 else x[:, 0])
        got = separator(x)[:, :stems]  # without the residual
    expected = expected.reshape(got.shape[:-1] + (-1,))
    n = expected.shape[-1]  # the reference's inverse STFT drops the tail of the last hop
    scale = float(expected.abs().max())
    frames = 20000 // HOP + 1
    bands = len(section.get("freqs_per_bands", [])) or section.get("num_bands")
    assert separator.source_names[:stems] == (instruments[:stems] if stems > 1 else ["vocals"])
    np.testing.assert_allclose(got[..., :n].numpy(), expected.numpy(), rtol=0,
                               atol=_tolerance(section, frames, bands, scale))


def test_zero_dc_clears_the_estimates_0_hz_bin_only():
    settings = architectures.get("bs_roformer").settings(
        architectures.get("bs_roformer").check_options({"dim": 16, "depth": 1, "heads": 2, "dim_head": 8,
                                                        "nfft": 256, "nhop": 64, "zero_dc": False}),
        ["vocals"], 2, 44100.0)
    torch.manual_seed(0)
    keep = BandRoFormer(settings).eval()
    drop = BandRoFormer(settings.__class__(**{**settings.__dict__, "zero_dc": True})).eval()
    drop.load_state_dict(keep.state_dict())
    x = torch.randn(1, 2, 129, 40, 2)
    with torch.no_grad():
        a, b = keep(x), drop(x)
    assert torch.all(b[:, :, :, 0] == 0) and torch.any(a[:, :, :, 0] != 0)
    assert torch.equal(a[:, :, :, 1:], b[:, :, :, 1:])  # same arithmetic for the other bins


def test_bands():
    assert default_widths(2048) == PUBLISHED_BANDS and sum(PUBLISHED_BANDS) == 1025 and len(PUBLISHED_BANDS) == 62
    for n_fft in (256, 512, 1024, 4096):
        widths = default_widths(n_fft)
        assert sum(widths) == n_fft // 2 + 1 and min(widths) >= 1
    assert parse_widths(format_widths(PUBLISHED_BANDS), 2048) == PUBLISHED_BANDS
    assert format_widths(PUBLISHED_BANDS) == "24x2,12x4,8x12,8x24,8x48,128,129"
    assert contiguous_bands([2, 3]) == ((0, 1), (2, 3, 4))
    with pytest.raises(ValueError, match="hold 5 bins, but a 2048-point STFT has 1025"):
        parse_widths("2,3", 2048)
    with pytest.raises(ValueError, match="'2y3' is not a width"):
        parse_widths("2y3", 2048)


@pytest.mark.parametrize("num_bands,n_fft,rate", [(60, 2048, 44100), (16, 512, 44100), (32, 1024, 48000),
                                                   (8, 256, 22050)])
def test_mel_bands_are_librosas_filter_bank(num_bands, n_fft, rate):
    librosa = pytest.importorskip("librosa")  # installed with the reference package (test extra)
    bank = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=num_bands)
    bank[0, 0] = 1.0
    bank[-1, -1] = 1.0
    expected = tuple(tuple(np.nonzero(row > 0)[0].tolist()) for row in bank)
    assert mel_bands(num_bands, n_fft, rate) == expected


def test_too_many_mel_bands_is_one_line():
    with pytest.raises(ArchitectureError, match="argument --num-bands: 200 mel bands leave bins"):
        architectures.get("mel_roformer").check_options({"num_bands": 200, "nfft": 256, "nhop": 64})


@pytest.mark.parametrize("length", [5000, 22050, 44100, 100003])
@pytest.mark.parametrize("num_overlap", [1, 2, 4])
def test_chunked_overlap_add_gives_back_a_linear_models_output(length, num_overlap):
    """A model that returns its input (and twice it): the faded chunks must add up to the input exactly up
    to the weights' rounding, whatever the length (shorter than a chunk, a multiple, a remainder)."""
    x = torch.randn(2, 2, length, dtype=torch.float64)
    out = chunked(lambda c: torch.stack([c, 2 * c], dim=1), x, 22050, num_overlap)
    assert out.shape == (2, 2, 2, length)
    # weights of at most num_overlap chunks per sample are summed and divided out: a few ulps of float64
    np.testing.assert_allclose(out[:, 0].numpy(), x.numpy(), rtol=0, atol=16 * 2.3e-16 * float(x.abs().max()))
    np.testing.assert_allclose(out[:, 1].numpy(), 2 * x.numpy(), rtol=0, atol=32 * 2.3e-16 * float(x.abs().max()))


def test_chunks_see_the_chunk_length_only():
    seen = []

    def model(c):
        seen.append(c.shape[-1])
        return c.unsqueeze(1)

    chunked(model, torch.randn(1, 2, 70001), 8192, 4)
    assert set(seen) == {8192}
    # reflected borders of 3/4 chunk at both ends, one chunk every 2048 samples
    assert len(seen) == math.ceil((70001 + 2 * 6144 - 8192) / 2048) + 1


@pytest.mark.parametrize("options,message", [
    ({"nhop": 4096}, "argument --nhop: 4096 is larger than --nfft 2048"),
    ({"dim_head": 7}, "argument --dim-head: rotary positions need an even size, got 7"),
    ({"win_length": 4096}, "argument --win-length: 4096 is larger than --nfft 2048"),
    ({"freqs_per_bands": "2,2"}, "argument --freqs-per-bands: the bands hold 4 bins"),
    ({"targets": "vocals,vocals"}, "argument --targets: a target is named twice"),
    ({"chunk_size": 1000}, "argument --chunk-size: 1000 is shorter than --nfft 2048"),
])
def test_bad_options_are_one_line(options, message):
    with pytest.raises(ArchitectureError, match=message):
        architectures.get("bs_roformer").check_options(options)

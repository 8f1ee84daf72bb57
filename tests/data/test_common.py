"""openunmix.data.common: reading excerpts (resampling, mono to stereo) and the listings in error messages."""

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, noise, one_line, write
from openunmix import data
from openunmix.data import AlignedDataset, DatasetError


def test_resampling_preserves_frequency_and_mono_to_stereo(tmp_path):
    t = np.arange(3 * 22050) / 22050
    sine = (0.5 * np.sin(2 * np.pi * 440 * t))[None]  # mono, 22050 Hz
    write(tmp_path / "train" / "t" / "mixture.wav", sine, rate=22050)
    write(tmp_path / "train" / "t" / "vocals.wav", np.repeat(sine, 2, 0), rate=22050)
    ds = AlignedDataset(tmp_path, seq_duration=2.0, random_chunks=True, sample_rate=44100)
    mix, target = ds[0]
    assert_item((mix, target), 2, 88200)
    assert torch.equal(mix[0], mix[1])
    spec = np.abs(np.fft.rfft(mix[0].numpy()))
    freqs = np.fft.rfftfreq(mix.shape[-1], 1 / 44100)
    assert abs(freqs[spec.argmax()] - 440) < 1.0
    assert 0.45 < mix.abs().max() < 0.55
    whole = AlignedDataset(tmp_path, sample_rate=44100)
    assert whole[0][0].shape[-1] == 3 * 44100
    mono = AlignedDataset(tmp_path, seq_duration=1.0, sample_rate=22050, nb_channels=1)
    assert_item(mono[0], 1, 22050)


@pytest.mark.numerics
@pytest.mark.parametrize("file_rate", [22050, 48000])
def test_resampled_excerpt_equals_span_of_whole_resampled_file(tmp_path, file_rate):
    x = noise(0, 1.0, rate=file_rate)
    path = write(tmp_path / "x.wav", x, rate=file_rate)
    f = data.probe_file(path, 2)
    whole = data.read_excerpt(f, 0, None, 44100, 2)
    assert whole.shape == (2, 44100)
    for start in (0, 1234, 30000):
        part = data.read_excerpt(f, start, 10000, 44100, 2)
        ref = whole[:, start:start + 10000]
        # soxr's HQ resampler is specified to 20 bits: two runs over the same samples with other context
        # (processed in other blocks, by soxr's own SSE/AVX code) agree to ~2**-20 = 1e-6 of full scale
        # (1.0); 1e-5 (measured 1.2e-7)
        np.testing.assert_allclose(part[:, :ref.shape[1]], ref, atol=1e-5)
        assert np.all(part[:, ref.shape[1]:] == 0)


def test_many_names_are_cut_short(tmp_path):
    for k in range(20):
        write(tmp_path / "train" / "t0" / f"s{k:02d}.wav", noise(k, 0.1))
    with pytest.raises(DatasetError) as err:
        AlignedDataset(tmp_path, sample_rate=SR)
    assert one_line(err).endswith("t0 holds s00.wav, s01.wav, s02.wav, s03.wav, s04.wav, s05.wav, "
                                  "s06.wav, s07.wav, s08.wav, s09.wav, s10.wav, s11.wav, and 8 more")

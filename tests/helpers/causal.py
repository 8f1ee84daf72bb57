"""Tiny causal (unidirectional) target models and test signals for the stream's tests (tests/stream/,
tests/programs/test_stream.py, tests/commands/test_stream.py), with the tolerances of stream against offline."""

import numpy as np
import torch

from conftest import make_model_folder, sum_rtol

RATE = 16000
N_FFT, N_HOP = 512, 128

# Stream against offline (and blocks against blocks): the same float32 arithmetic, except that the LSTM
# runs through torch.lstm_cell on short blocks and through oneDNN on long ones, and every matrix product
# sees another number of frames, so any of the models' sums may be taken in another order (conftest.
# sum_rtol): fc1 (2 channels x 200 bins), the 2 LSTM layers (32 terms a gate, carried on over at most
# 1 / (1 - f) = 3.8 frames by these models' forget gates f <= 0.74), fc2 (32) and fc3 (16 terms):
# 8.2e-5 relative to the magnitudes. A ratio mask v_j / sum_k v_k passes a relative change d of the
# magnitudes on as at most 2 d of its output.
MAGNITUDE_RTOL = sum_rtol(400, round(2 * 32 * 3.8), 32, 16)



MASK_RTOL = 2 * MAGNITUDE_RTOL  # 1.6e-4; measured at most 2.6e-7 under the default, AVX2 and AVX-512 kernels



def make_causal_folder(path, targets=("vocals", "drums"), unidirectional=True, seed=0):
    """Tiny random target models (conftest.make_model_folder) of two LSTM layers, causal by default."""
    return make_model_folder(path, targets, hidden_size=16, nb_channels=2, n_fft=N_FFT, n_hop=N_HOP, rate=RATE,
                             bandwidth_bins=200, seed=seed, nb_layers=2, unidirectional=unidirectional)



def mixture(samples, seed=0):
    """A stereo tone with noise bursts: (2, samples) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * rng.standard_normal(samples) * (np.sin(2 * np.pi * 3 * t) > 0)
    return torch.from_numpy(np.stack([x, 0.7 * x + 0.05 * rng.standard_normal(samples)]).astype(np.float32))



def random_blocks(x, rng):
    """Split ``(channels, n)`` into blocks of random sizes: single samples, sub-hop, and beyond a window."""
    sizes, n = [], x.shape[-1]
    while sum(sizes) < n:
        sizes.append(int(rng.choice([1, 1, 2, 7, N_HOP - 1, N_HOP, 300, N_FFT, N_FFT + N_HOP + 5, 2000])))
    sizes[-1] -= sum(sizes) - n
    return list(torch.split(x, [s for s in sizes if s > 0], dim=-1))

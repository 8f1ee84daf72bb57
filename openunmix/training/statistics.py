"""The statistics pass before the first epoch: per-bin mean and spread of the training mixtures' magnitude."""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import data as data_mod
from .. import distributed as dist_utils
from ..transforms import STFT
from .config import TrainingError


class _StatsItems(Dataset):
    """One item per training track: per-bin sums of its mono mixture magnitude."""

    def __init__(self, groups: Sequence[Sequence[Path]], sample_rate: float, n_fft: int, n_hop: int, chunk: int):
        self.groups = [list(g) for g in groups]
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.chunk = chunk

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, torch.Tensor, int]:
        """``(Σ magnitude, Σ magnitude², frames)`` of track ``i``, the sums ``(bins,)`` in float64."""
        # no torch.set_num_threads here: with nb_workers=0 this runs in the caller's
        # process and would leave every later training step on one thread (DataLoader
        # workers already run single-threaded)
        from .. import audio

        stft = STFT(self.n_fft, self.n_hop)
        mono = []
        for path in self.groups[i]:
            x, rate = audio.load(path)
            mono.append(audio.resample(x.mean(axis=0, keepdims=True), rate, self.sample_rate))
        mix = data_mod.sum_sources(mono)
        total = torch.zeros(self.n_fft // 2 + 1, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        count = 0
        with torch.inference_mode():
            for start in range(0, mix.shape[-1], self.chunk):
                mag = stft(torch.from_numpy(mix[None, :, start : start + self.chunk]))[0, 0].abs().double()
                total += mag.sum(-1)
                total_sq += (mag**2).sum(-1)
                count += mag.shape[-1]
        return total, total_sq, count


def dataset_statistics(
    dataset: Any, sample_rate: float, n_fft: int, n_hop: int, nb_workers: int = 0, progress: bool = False
) -> Tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and standard deviation of the training mixtures' mono magnitude.

    One pass over ``dataset.stats_sources()`` (unaugmented tracks), in
    ``nb_workers`` parallel processes, each track read in chunks.

    Returns:
        ``(mean, std)``, each of ``n_fft // 2 + 1`` values; ``std`` is floored
        at 1e-4 of its maximum so silent bins do not blow up the input scale.
    """
    items = _StatsItems(dataset.stats_sources(), sample_rate, n_fft, n_hop, chunk=int(60 * sample_rate))
    if len(items) == 0:
        raise TrainingError("the training set has no tracks to compute statistics from")
    loader = DataLoader(items, batch_size=None, num_workers=nb_workers)
    total = torch.zeros(n_fft // 2 + 1, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    count = 0
    it = loader
    if progress:
        from tqdm import tqdm

        it = tqdm(loader, desc="statistics", unit="track", leave=False)
    for s, sq, c in it:
        total += s
        total_sq += sq
        count += int(c)
    mean = total / max(count, 1)
    std = torch.sqrt(torch.clamp(total_sq / max(count, 1) - mean**2, min=0))
    std = torch.maximum(std, 1e-4 * std.max().clamp(min=1e-8))
    return mean.numpy(), std.numpy()


def shared_statistics(stft: Optional[Tuple[int, int]], train_ds: Any, sample_rate: float, ctx: dist_utils.Context,
                      is_main: bool, nb_workers: int, progress: bool,
                      log: Callable[[str], None]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The per-bin mixture statistics at ``stft`` (``(n_fft, n_hop)``; None: none asked for): rank 0 computes
    them (:func:`dataset_statistics`, one ``log`` line with the time taken), every process gets them.

    Returns:
        ``(mean, std)``, each ``(n_fft // 2 + 1,)``; None without ``stft``.
    """
    if stft is None:
        return None
    n_fft, n_hop = stft
    stats = torch.zeros(2, n_fft // 2 + 1, dtype=torch.float64)
    if is_main:
        t0 = time.time()
        mean, std = dataset_statistics(train_ds, sample_rate, n_fft, n_hop, nb_workers=nb_workers, progress=progress)
        stats[0], stats[1] = torch.from_numpy(mean), torch.from_numpy(std)
        log(f"dataset statistics: {len(train_ds.stats_sources())} tracks in {time.time() - t0:.1f}s")
    dist_utils.broadcast_tensor(stats, ctx)
    return stats[0].numpy(), stats[1].numpy()

"""The training batches: a loader built once per run whose sampler is re-seeded every epoch."""

from __future__ import annotations

from typing import Any, Iterator, Tuple

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler


class EpochSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` pairs from a :class:`DistributedSampler`."""

    def __init__(self, sampler: DistributedSampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return ((self.epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class EpochItems(Dataset):
    """Dataset view indexed by ``(epoch, index)``: sets the epoch, then returns the item."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Tuple[int, int]) -> Any:
        """Item ``index`` as drawn in ``epoch``: ``(mixture, target)`` tensors."""
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]


def make_loader(dataset: Dataset, batch_size: int, world_size: int, rank: int, seed: int, nb_workers: int,
                pin_memory: bool) -> Tuple[DataLoader, EpochSampler]:
    """The training loader of one process and its sampler (call ``sampler.set_epoch`` before each epoch).

    Items are requested as ``(epoch, index)`` so that persistent workers,
    which keep their copy of the dataset across epochs, still draw the
    excerpts of the current epoch. Batches are never partial.

    Args:
        batch_size: this process's share of the global batch.
        world_size, rank: the processes of the run and this one's rank.
    """
    sampler = EpochSampler(DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True,
    ))
    loader = DataLoader(
        EpochItems(dataset), batch_size=batch_size, sampler=sampler, drop_last=True,
        num_workers=nb_workers, pin_memory=pin_memory,
        persistent_workers=nb_workers > 0, prefetch_factor=4 if nb_workers else None,
        # its own generator: worker seeds never draw from the global (dropout) generator,
        # so results do not depend on the number of workers
        generator=torch.Generator().manual_seed(seed + rank),
    )
    return loader, sampler

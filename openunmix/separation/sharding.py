"""Shares of a list of inputs for many processes: ``torchrun`` ranks and the tasks of a job array.

Every process computes the same split from the same list, so no process
needs to hear from another to know what it does. The split balances the
audio length, not the number of files: inputs are handed out longest first,
each to the share that has the least audio so far (ties: the lower share),
which keeps every share within one input's length of the others.

A share is a :class:`Shard`, ``K/N`` with ``K`` counted from 1 as users
write it (``--shard 2/4``). A job array gives its tasks their share through
the environment (:meth:`Shard.from_environment`, SLURM's array variables);
``torchrun`` ranks divide their task's share again (:meth:`Shard.within`).
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

from ..utils import PathLike

# what SLURM sets in the tasks of a job array (SLURM_ARRAY_TASK_<name>), in the order messages name them
_ARRAY_VARIABLES = ("ID", "COUNT", "MIN", "MAX", "STEP")


@dataclass(frozen=True)
class Shard:
    """Share ``index + 1`` of ``count`` (``index`` counts from 0).

    Raises:
        ValueError: ``count`` below 1, or ``index`` outside ``[0, count)``.
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"shard count must be an integer >= 1, got {self.count!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise ValueError(f"shard index must be an integer, got {self.index!r}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard must be K/N with 1 <= K <= N, got {self.index + 1}/{self.count}")

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"

    @property
    def whole(self) -> bool:
        """Whether this share is every input (``1/1``)."""
        return self.count == 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"K/N"`` (``1 <= K <= N``) as a shard.

        Raises:
            ValueError: one line saying what is wrong.
        """
        k, sep, n = str(text).strip().partition("/")
        try:
            index, count = int(k), int(n)
        except ValueError:
            index = count = 0
        if not sep or count < 1 or not 1 <= index <= count:
            raise ValueError(f"expected K/N with 1 <= K <= N (e.g. 2/4), got {text!r}")
        return cls(index - 1, count)

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> Optional["Shard"]:
        """This task's share of a SLURM job array, or None outside one (no ``SLURM_ARRAY_TASK_ID``).

        The array's tasks are the indices ``MIN, MIN + STEP, …, MAX``
        (``SLURM_ARRAY_TASK_MIN``/``STEP``/``MAX``), ``SLURM_ARRAY_TASK_COUNT``
        of them; the task's share is its place in that sequence, so
        ``--array=0-9`` and ``--array=1-10`` both give 10 shares. Every
        variable SLURM sets is used, and they must agree; what is not set is
        derived from the others: the count from MIN, MAX and STEP (older SLURM
        versions set no count), the step from MIN, MAX and the count, STEP 1
        otherwise, and MIN 0 when only the count is set (a task run by hand:
        ``SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=10``).

        Raises:
            ValueError: the variables do not determine a share (the ID alone,
                an array given as a list of unevenly spaced indices, values
                that disagree or are not integers); one line naming the
                variables seen.
        """
        env = os.environ if environ is None else environ
        if env.get("SLURM_ARRAY_TASK_ID") is None:
            return None
        seen = {name: env[f"SLURM_ARRAY_TASK_{name}"] for name in _ARRAY_VARIABLES
                if env.get(f"SLURM_ARRAY_TASK_{name}") not in (None, "")}
        shown = ", ".join(f"SLURM_ARRAY_TASK_{name}={value}" for name, value in seen.items())

        def refuse(why: str) -> ValueError:
            return ValueError(f"cannot tell this task's share from {shown}: {why}; give it with --shard K/N")

        try:
            value = {name: int(text) for name, text in seen.items()}
        except ValueError:
            bad = next(n for n, t in seen.items() if not t.strip().lstrip("+-").isdigit())
            raise refuse(f"SLURM_ARRAY_TASK_{bad} is not an integer") from None
        if "ID" not in value:
            raise refuse("SLURM_ARRAY_TASK_ID is empty")
        task, count, low, high, step = (value.get(n) for n in _ARRAY_VARIABLES)
        if count is None and high is None:
            raise refuse("neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is set, so the number of "
                         "tasks is unknown")
        if count is not None and count < 1:
            raise refuse("the count is below 1")
        if step is None:
            if count is not None and count > 1 and low is not None and high is not None:
                if (high - low) % (count - 1):
                    raise refuse("the indices are not evenly spaced (an array given as a list)")
                step = (high - low) // (count - 1)
            else:
                step = 1
        if step < 1:
            raise refuse("the step is below 1")
        if low is None:
            low = 0 if high is None else high - (count - 1) * step if count is not None else None
            if low is None:
                raise refuse("SLURM_ARRAY_TASK_MAX without SLURM_ARRAY_TASK_MIN or SLURM_ARRAY_TASK_COUNT")
        if count is None:
            if high < low or (high - low) % step:
                raise refuse("MAX is not MIN plus a whole number of steps")
            count = (high - low) // step + 1
        if high is not None and high != low + (count - 1) * step:
            raise refuse(f"{count} tasks from {low} in steps of {step} do not end at {high} "
                         "(an array given as a list of unevenly spaced indices?)")
        offset = task - low
        if offset < 0 or offset % step or offset // step >= count:
            raise refuse(f"task {task} is not one of the {count} tasks from {low} in steps of {step}")
        return cls(offset // step, count)

    def within(self, rank: int, world_size: int) -> "Shard":
        """The share of process ``rank`` of ``world_size`` (``torchrun``) inside this share.

        Shares of shares are shares of the whole list: task ``K`` of ``N``
        with ``W`` ranks each is one of ``N * W`` shares.
        """
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        return Shard(self.index * world_size + rank, self.count * world_size)


def balanced_split(weights: Sequence[float], count: int) -> List[List[int]]:
    """Split items into ``count`` shares of about equal total weight, greedily, heaviest first.

    Deterministic: the same weights always give the same shares. Items of
    equal weight are taken in list order, and a tie between shares goes to
    the lower share. Items of weight 0 (or unknown, given as 0) are spread by
    count like the rest: they go to the least loaded share.

    Returns:
        per share the indices of its items, in list order; every index is in
        exactly one share.
    """
    if count < 1:
        raise ValueError(f"cannot split into {count} shares")
    order = sorted(range(len(weights)), key=lambda i: (-max(0.0, float(weights[i])), i))
    # (load, number of items, share): the least loaded share, then the one with fewer items, then the lower
    heap = [(0.0, 0, s) for s in range(count)]
    shares: List[List[int]] = [[] for _ in range(count)]
    for i in order:
        load, items, s = heapq.heappop(heap)
        shares[s].append(i)
        heapq.heappush(heap, (load + max(0.0, float(weights[i])), items + 1, s))
    return [sorted(share) for share in shares]


def share_of(weights: Sequence[float], shard: Shard) -> List[int]:
    """The indices (in list order) of the items of ``shard`` under :func:`balanced_split`."""
    if shard.whole:
        return list(range(len(weights)))
    return balanced_split(weights, shard.count)[shard.index]


def audio_duration(path: PathLike) -> Optional[float]:
    """Seconds of audio in a file, from its header (nothing is decoded); None when it cannot be read."""
    from ..audio import AudioError, info

    try:
        rate, samples, _ = info(path)
    except (AudioError, OSError):
        return None
    return samples / rate if rate > 0 else None

"""The segment plan: where the segments of a long signal lie, and how many go through the models at once.

:func:`~openunmix.separation.separate.separate_blocks` follows it; no tensors here.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch

# seconds of audio that one batch of segments may hold: one default segment's, so that batching does not raise
# the memory bound (two 28.8 s segments at once took 1.6 GB on 600 s against about 1 GB one at a time)
BATCH_AUDIO = 30.0


def segment_batch(length: int, segment: int, overlap: int, threads: Optional[int] = None,
                  rate: float = 44100.0) -> int:
    """K, the segments that go through the models as one batch (:func:`separate_blocks`).

    One for a signal that fits in one segment; otherwise the number of
    segments of :func:`segment_plan`, at least 2 and at most torch's thread
    count (``threads``; None: ``torch.get_num_threads()``), and at most as
    many segments as :data:`BATCH_AUDIO` seconds hold (one default 30 s
    segment: with the default ``--segment`` K is 1; ``--segment 15`` gives
    K = 2), so that a batch holds no more audio than one default segment
    whatever the song's length and the cores. Batched, every LSTM runs K recurrences at once (a K-row
    matrix product per step instead of a matrix-vector product), and each
    of its steps' fixed costs is paid once for K segments.

    Args:
        length, segment, overlap: samples, as for :func:`segment_plan`.
        rate: samples per second (for :data:`BATCH_AUDIO`).
    """
    count = len(segment_plan(length, segment, overlap))
    if count < 2:
        return 1
    threads = torch.get_num_threads() if threads is None else threads
    memory = max(1, int(BATCH_AUDIO * rate) // max(segment, 1))
    return max(1, min(count, max(2, threads), memory))


def segment_plan(length: int, segment: int, overlap: int, multiple: int = 1) -> List[Tuple[int, int]]:
    """Where the segments of a signal of ``length`` samples lie: ``[(start, end), ...]``.

    A signal of at most ``segment`` samples is one segment. A longer one is
    cut into the fewest segments of at most ``segment`` samples that overlap
    by exactly ``overlap`` samples (the cross-fade), all of the same length
    (the first ones one sample longer where the total does not divide): no
    segment is shorter than the others, and no more audio is computed than
    the cross-fades need, ``length + (segments - 1) * overlap`` samples.

    Args:
        length: samples of the signal (>= 0).
        segment: most samples per segment (>= 1).
        overlap: samples shared by consecutive segments (0 <= overlap < segment).
        multiple: a longer signal gets a multiple of this many segments (the
            fewest such; batches of that many segments are then all full).

    Returns:
        ``(start, end)`` sample ranges in order; the first starts at 0, the last ends at ``length``.
    """
    if segment < 1 or not 0 <= overlap < segment:
        raise ValueError("segment must be >= 1 and the overlap at least 0 and shorter than the segment")
    if length < 0:
        raise ValueError("length must be >= 0")
    if length <= segment:
        return [(0, length)]
    count = -(-(length - overlap) // (segment - overlap))  # ceil: the fewest segments of at most `segment`
    if multiple > 1:
        count = -(-count // multiple) * multiple
    base, longer = divmod(length + (count - 1) * overlap, count)
    plan = []
    start = 0
    for i in range(count):
        end = start + base + (1 if i < longer else 0)
        plan.append((start, end))
        start = end - overlap
    return plan



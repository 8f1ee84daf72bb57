"""openunmix.separation.plan: the segments of a signal and how many go through the models at once. The
separation that follows the plan: tests/separation/test_separate.py."""

import itertools

import pytest

from openunmix.separation.plan import BATCH_AUDIO, segment_batch, segment_plan
from openunmix.separation.separate import SeparationSettings


def test_segment_plan_one_segment_when_it_fits_else_equal_segments_overlapping_by_the_cross_fade():
    for length, segment, overlap in itertools.product(range(0, 60), range(1, 13), range(0, 12)):
        if overlap >= segment:
            continue
        plan = segment_plan(length, segment, overlap)
        if length <= segment:
            assert plan == [(0, length)]
            continue
        sizes = [end - start for start, end in plan]
        assert plan[0][0] == 0 and plan[-1][1] == length  # covers the signal
        assert max(sizes) <= segment and max(sizes) - min(sizes) <= 1  # equal to a sample, none too long
        assert all(a[1] - b[0] == overlap for a, b in zip(plan, plan[1:]))  # overlaps are the cross-fade
        assert all(b[0] > a[0] for a, b in zip(plan, plan[1:]))
        # the fewest segments: one fewer could not cover the signal with segments of at most `segment`
        assert (len(plan) - 1) * segment - (len(plan) - 2) * overlap < length
    # 60 s at 44.1 kHz in 30 s segments with 4 s cross-fades: three segments of 22.67 s, not 30 + 30 + 8 s
    plan = segment_plan(60 * 44100, 30 * 44100, 4 * 44100)
    assert [e - s for s, e in plan] == [999600] * 3
    with pytest.raises(ValueError):
        segment_plan(10, 4, 4)


def test_segment_plan_of_batches_has_a_multiple_of_k_segments_and_k_follows_length_threads_and_memory():
    for length, segment, overlap, k in itertools.product(range(0, 60, 3), range(2, 13), range(0, 12), (2, 3)):
        if overlap >= segment:
            continue
        plan = segment_plan(length, segment, overlap, k)
        if length <= segment:
            assert plan == [(0, length)]
            continue
        sizes = [end - start for start, end in plan]
        assert len(plan) % k == 0 and len(plan) >= len(segment_plan(length, segment, overlap))
        assert len(plan) < len(segment_plan(length, segment, overlap)) + k  # the fewest such
        assert plan[0][0] == 0 and plan[-1][1] == length
        assert max(sizes) <= segment and max(sizes) - min(sizes) <= 1
        assert all(a[1] - b[0] == overlap for a, b in zip(plan, plan[1:]))
    rate = 44100
    assert BATCH_AUDIO == 30.0  # one default segment: batching keeps the memory bound
    assert segment_batch(20 * rate, 30 * rate, 4 * rate, threads=8) == 1  # one segment: the whole song
    assert segment_batch(600 * rate, 30 * rate, 4 * rate, threads=64) == 1  # a default segment fills a batch
    assert segment_batch(60 * rate, 15 * rate, 4 * rate, threads=1) == 2  # batched even on one thread
    assert segment_batch(600 * rate, 5 * rate, 1 * rate, threads=4) == 4  # the threads
    assert segment_batch(600 * rate, 10 * rate, 1 * rate, threads=64) == int(BATCH_AUDIO // 10)  # the memory
    assert segment_batch(18 * rate, 10 * rate, 1 * rate, threads=64) == 2  # no more than the segments
    with pytest.raises(ValueError, match="^batch"):
        SeparationSettings(batch=0)

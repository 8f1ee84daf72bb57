"""openunmix.separation.parallel: work side by side on threads with their own torch thread counts."""

import threading

import pytest
import torch

from openunmix.separation.parallel import map_side_by_side, worker_threads


def test_worker_threads_share_the_threads_and_each_has_one():
    assert worker_threads(4, 2) == [2, 2]
    assert worker_threads(5, 2) == [3, 2]
    assert worker_threads(1, 3) == [1, 1, 1]
    assert sum(worker_threads(7, 3)) == 7


def test_results_come_in_order_whatever_the_finishing_order():
    import time

    def work(i):
        time.sleep(0.02 * (5 - i % 5))  # later items finish first
        return i * i

    assert list(map_side_by_side(work, list(range(12)), workers=3, threads=2)) == [i * i for i in range(12)]


def test_workers_run_with_their_thread_counts_and_the_callers_modes():
    counts, modes = [], []
    caller = torch.get_num_threads()

    def work(i):
        counts.append(torch.get_num_threads())
        modes.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        return i

    with torch.inference_mode():
        list(map_side_by_side(work, list(range(6)), workers=2, threads=2))
    assert set(counts) == {1}  # two workers share two threads
    assert set(modes) == {(False, True)}
    assert torch.get_num_threads() == caller  # the caller's count is not changed


def test_the_first_error_is_raised_after_every_worker_is_joined():
    def work(i):
        if i == 4:
            raise RuntimeError("item 4 failed")
        return i

    with pytest.raises(RuntimeError, match="item 4 failed"):
        list(map_side_by_side(work, list(range(20)), workers=2, threads=2, name="t-par-err"))
    assert not [t for t in threading.enumerate() if t.name.startswith("t-par-err")]


def test_closing_early_stops_the_workers():
    gen = map_side_by_side(lambda i: i, list(range(100)), workers=2, threads=2, name="t-par-close")
    assert next(gen) == 0
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("t-par-close")]

"""Independent pieces of work side by side on worker threads with their own torch thread counts.

torch's intra-op thread count is per thread: a worker that sets it to one
runs its operations without an OpenMP team. Two such workers keep two
cores busy on work that one team of two threads runs poorly (a batch-1
LSTM), and they do not wait for each other at every operation, which is
what makes a team of two slow when another process takes one of the
cores (see docs/performance.md, issue 20).
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Iterator, List, Sequence, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def worker_threads(threads: int, workers: int) -> List[int]:
    """How ``threads`` intra-op threads are shared by ``workers`` workers (each at least one)."""
    return [max(1, threads // workers + (1 if k < threads % workers else 0)) for k in range(workers)]


def map_side_by_side(fn: Callable[[T], R], items: Sequence[T], workers: int, threads: int,
                     name: str = "openunmix-worker") -> Iterator[R]:
    """``fn(item)`` for every item, computed on ``workers`` threads, yielded in the items' order.

    Each worker sets its own intra-op thread count (:func:`worker_threads`
    of ``threads``), enters the caller's grad and inference modes (both per
    thread) and takes the next item; at most ``workers`` results wait to be
    yielded, so memory stays bounded. The first error of a worker is raised
    here, after every worker is joined; closing the generator early (or an
    exception in the consumer) stops and joins them too. torch keeps the
    last count set in any thread as the default of threads it starts later,
    so every worker sets ``threads`` back before it ends.

    Args:
        fn: the work; it runs on the workers, so it must not rely on thread-local state
            other than the grad and inference modes.
        items: the pieces of work.
        workers: threads (>= 1).
        threads: the intra-op threads the workers share, usually ``torch.get_num_threads()`` of the caller.
    """
    n = len(items)
    lock = threading.Condition()
    results: Dict[int, R] = {}
    state = {"next": 0, "yielded": 0}
    errors: List[BaseException] = []
    stop = threading.Event()
    inference = torch.is_inference_mode_enabled()
    grad = torch.is_grad_enabled()

    def work(count: int) -> None:
        torch.set_num_threads(count)
        try:
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                while True:
                    with lock:
                        while not stop.is_set() and state["next"] < n and state["next"] >= state["yielded"] + workers:
                            lock.wait()
                        if stop.is_set() or state["next"] >= n:
                            return
                        i = state["next"]
                        state["next"] += 1
                    out = fn(items[i])
                    with lock:
                        results[i] = out
                        lock.notify_all()
        except BaseException as err:  # raised in the caller's thread
            with lock:
                errors.append(err)
                stop.set()
                lock.notify_all()
        finally:
            torch.set_num_threads(threads)

    pool = [threading.Thread(target=work, args=(c,), name=f"{name}-{k}", daemon=True)
            for k, c in enumerate(worker_threads(threads, workers))]
    try:
        for t in pool:
            t.start()
        for i in range(n):
            with lock:
                while i not in results and not errors:
                    lock.wait()
                if errors:
                    break
                out = results.pop(i)
                state["yielded"] = i + 1
                lock.notify_all()
            yield out
    finally:  # also on KeyboardInterrupt or an early close: no new items, and the workers end before we do
        with lock:
            stop.set()
            lock.notify_all()
        for t in pool:
            if t.is_alive():
                t.join()
    if errors:
        raise errors[0]


__all__ = ["map_side_by_side", "worker_threads"]

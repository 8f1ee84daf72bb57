"""Reading ahead and writing behind in background threads.

:class:`ReadAhead` runs an iterator (decoding and resampling audio blocks)
in a thread, a few items ahead of its consumer; :class:`WriteBehind` hands
items (separated blocks) to a function (resampling and writing them) in a
thread. The separation of :func:`~openunmix.separation.separate.separate_file` thus
overlaps with its input and output: soundfile, soxr and torch release the
GIL while they work.

Both keep their queues short (memory stays bounded), re-raise the
exception of their thread in the caller's thread where the item would have
been taken or handed over, and stop and join their thread on :meth:`close`
(also on errors and ``KeyboardInterrupt`` in the caller, via ``with``).
Both count how long the caller waited for them (``waited``) and how long
their thread worked (``busy``), in seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, Tuple, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2
_POLL = 0.05  # seconds between checks of the stop flag while a queue is full or empty


class ReadAhead(Generic[T]):
    """Iterate ``source`` in a background thread, at most ``depth`` items ahead of the consumer.

    Iterating a ``ReadAhead`` gives ``source``'s items in order; an exception
    raised by ``source`` is raised by ``next()`` in the consumer's thread
    after the items that came before it. ``source`` is iterated and closed
    (if it is a generator) in the background thread only.

    Attributes:
        waited: seconds ``next()`` waited for an item (the consumer waiting for input).
        busy: seconds the thread spent inside ``source``.
    """

    def __init__(self, source: Iterable[T], depth: int = 2, name: str = "openunmix-read-ahead"):
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._queue: "queue.Queue[Tuple[int, Any]]" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self.waited = 0.0
        self.busy = 0.0
        self._thread = threading.Thread(target=self._run, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _put(self, kind: int, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, source: Iterable[T]) -> None:
        it = None
        try:
            it = iter(source)
            while not self._stop.is_set():
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    self._put(_END, None)
                    return
                finally:
                    self.busy += time.perf_counter() - t
                if not self._put(_ITEM, item):
                    return
        except BaseException as err:  # handed to the consumer, who raises it
            self._put(_ERROR, err)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: S110 (closing a source that already failed)
                    pass

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        t = time.perf_counter()
        kind, value = self._queue.get()
        self.waited += time.perf_counter() - t
        if kind == _ITEM:
            return value
        self._finished = True
        self._thread.join()
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the thread (it finishes the item it is reading) and join it."""
        self._stop.set()
        self._finished = True
        while True:  # free a thread blocked on a full queue at once
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()

    def __enter__(self) -> "ReadAhead[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriteBehind(Generic[T]):
    """Call ``consume(item)`` in a background thread on every item :meth:`put` gives it, in order.

    An exception raised by ``consume`` stops the thread and is raised in the
    caller's thread by the next :meth:`put` or by :meth:`finish`; the items
    after it are dropped.

    Attributes:
        waited: seconds :meth:`put` and :meth:`finish` waited for the thread.
        busy: seconds the thread spent in ``consume``.
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 2, name: str = "openunmix-write-behind"):
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._consume = consume
        self._queue: "queue.Queue[Tuple[int, Any]]" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: Optional[BaseException] = None
        self.waited = 0.0
        self.busy = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if kind == _END:
                return
            t = time.perf_counter()
            try:
                self._consume(item)
            except BaseException as err:  # raised in the caller's thread
                self._error = err
                self._stop.set()
                return
            finally:
                self.busy += time.perf_counter() - t

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            self._thread.join()
            raise err

    def _put(self, kind: int, item: Any) -> None:
        t = time.perf_counter()
        try:
            while True:
                self._raise()
                if self._stop.is_set() or not self._thread.is_alive():
                    raise RuntimeError("the background writer has stopped")
                try:
                    self._queue.put((kind, item), timeout=_POLL)
                    return
                except queue.Full:
                    continue
        finally:
            self.waited += time.perf_counter() - t

    def put(self, item: T) -> None:
        """Hand ``item`` to the thread (waits while ``depth`` items are queued).

        Raises:
            the exception ``consume`` raised on an earlier item.
        """
        self._put(_ITEM, item)

    def finish(self) -> None:
        """Wait until every item is consumed and join the thread.

        Raises:
            the exception ``consume`` raised, if any.
        """
        self._put(_END, None)
        t = time.perf_counter()
        self._thread.join()
        self.waited += time.perf_counter() - t
        self._raise()

    def close(self) -> None:
        """Stop the thread after the item it is consuming, drop the queued ones, and join it."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()

    def __enter__(self) -> "WriteBehind[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ReadAhead", "WriteBehind"]

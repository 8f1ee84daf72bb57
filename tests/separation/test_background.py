"""openunmix.separation.background: reading ahead and writing behind on threads, errors where the item would be."""

import threading
import time

import pytest

from openunmix.separation.background import ReadAhead, WriteBehind


def _threads_named(prefix):
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_read_ahead_gives_the_items_in_order_and_stays_bounded():
    produced = []

    def source():
        for i in range(20):
            produced.append(i)
            yield i

    with ReadAhead(source(), depth=2, name="t-read") as items:
        first = next(items)
        time.sleep(0.2)  # the thread may run ahead, but not further than the queue's depth
        # taken (1) + queued (2) + the one its put is blocked on (1)
        assert first == 0 and len(produced) <= 4
        assert [first] + list(items) == list(range(20))
    assert not _threads_named("t-read")


def test_read_ahead_raises_the_source_error_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in ReadAhead(source(), name="t-read-err"):
            got.append(item)
    assert got == [1, 2]


def test_read_ahead_closed_early_stops_and_joins_its_thread():
    closed = threading.Event()

    def source():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    reader = ReadAhead(source(), depth=1, name="t-read-close")
    assert next(reader) == 0
    reader.close()
    assert closed.wait(5) and not _threads_named("t-read-close")


def test_write_behind_consumes_everything_in_order_on_its_thread():
    seen, threads = [], set()

    def consume(item):
        seen.append(item)
        threads.add(threading.current_thread().name)

    writer = WriteBehind(consume, depth=1, name="t-write")
    for i in range(10):
        writer.put(i)
    writer.finish()
    assert seen == list(range(10)) and threads == {"t-write"}
    assert writer.busy >= 0 and writer.waited >= 0
    assert not _threads_named("t-write")


def test_write_behind_raises_the_consumer_error_in_the_caller():
    def consume(item):
        if item == 3:
            raise ValueError("cannot write item 3")

    writer = WriteBehind(consume, depth=1, name="t-write-err")
    with pytest.raises(ValueError, match="item 3"):
        for i in range(100):  # a later put (or finish) raises it
            writer.put(i)
        writer.finish()
    writer.close()
    assert not _threads_named("t-write-err")


def test_write_behind_refuses_a_depth_below_one():
    with pytest.raises(ValueError, match="depth"):
        WriteBehind(lambda item: None, depth=0)

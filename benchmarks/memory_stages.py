"""Where a separation's memory goes: resident size and bytes in use, stage by stage, segment by segment.

    python benchmarks/memory_stages.py --durations 600
    python benchmarks/memory_stages.py --durations 600 --segments 6 -- --segment 15

Runs ``test.py`` in this process (untrained default-size models, four
targets, a synthetic song; flags after ``--`` go to ``test.py``) with the
allocator settings ``test.py`` gives itself, while a thread samples every
0.5 ms the resident size (``/proc/self/statm``) and, with glibc, the bytes
the program holds (``mallinfo2``: in use in the heap plus mapped blocks).
The Separator's steps mark the stages: ``stft`` (the mixture's spectrum and
magnitude), ``models`` (the target models), ``filter`` (the Wiener filter and
the overlap-add), ``pipeline`` (everything between: reading ahead, writing
behind, the cross-fades). Printed: each stage of the first ``--segments``
segments with the resident size and the bytes in use when it began and at
most, then the peaks. Resident minus in use is what the process maps
without using (code and libraries, and what the allocator keeps after
frees); a resident size that grows from segment to segment while the bytes
in use stay flat is the heap's fragmentation.

The songs of ``--durations`` are separated one after the other in this
process, so each later song starts from the resident size the earlier ones
left: give one duration for a figure a user would see.

Memory does not depend on the machine's load; the times printed do.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import runpy
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openunmix.commands.runtime import tune_allocator  # noqa: E402

tune_allocator(arenas=1)  # what test.py does (re-executes this script), before common's own setting

from common import ROOT, default_model_folder, synth_song  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 2**20


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _in_use_reader():
    """``() -> MB`` in use (heap chunks in use plus mmapped blocks), or None without glibc's mallinfo2."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):
        return None

    def read() -> float:
        m = libc.mallinfo2()
        return (m.uordblks + m.hblkhd) / MB
    return read


def _resident() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / MB


class Stages:
    """Samples resident size and bytes in use in a thread; ``mark(name)`` starts a stage."""

    def __init__(self, period: float = 0.0005):
        self.in_use = _in_use_reader()
        self.rows: list = []  # [stage, t, rss at start, rss max, in use at start, in use max]
        self.stage = "start"
        self.t0 = time.perf_counter()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self._thread.start()

    def mark(self, name: str) -> None:
        self.stage = name

    def _run(self, period: float) -> None:
        while not self._stop:
            rss, used = _resident(), (self.in_use() if self.in_use else float("nan"))
            if not self.rows or self.rows[-1][0] != self.stage:
                self.rows.append([self.stage, time.perf_counter() - self.t0, rss, rss, used, used])
            row = self.rows[-1]
            row[3], row[5] = max(row[3], rss), max(row[5], used)
            time.sleep(period)

    def stop(self) -> None:
        self._stop = True
        self._thread.join()


def instrument(mark) -> None:
    """Call ``mark(stage)`` from the Separator's steps (wrapping its methods once; nothing else changes)."""
    from openunmix.separation.separator import Separator

    estimate, filtered, forward = Separator.estimate_magnitudes, Separator.filtered_windows, Separator.forward

    def estimate_magnitudes(self, mag):
        mark("models")
        return estimate(self, mag)

    def filtered_windows(self, V, X):
        mark("filter")
        yield from filtered(self, V, X)

    def marked_forward(self, audio):
        mark("stft")
        try:
            return forward(self, audio)
        finally:
            mark("pipeline")

    Separator.estimate_magnitudes = estimate_magnitudes
    Separator.filtered_windows = filtered_windows
    Separator.forward = marked_forward


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--durations", type=float, nargs="+", default=[600.0], help="song lengths in seconds")
    p.add_argument("--segments", type=int, default=4, help="segments whose stages are printed")
    p.add_argument("--work", default="/tmp/openunmix-memory-stages", help="song, models and outputs")
    p.add_argument("test_py", nargs=argparse.REMAINDER, help="-- then test.py flags")
    args = p.parse_args()
    extra = [a for a in args.test_py if a != "--"]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = default_model_folder(work / "model")
    print(f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_')} "
          f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX')}; test.py flags: {' '.join(extra) or '(none)'}")
    current = {}  # the Stages of the song being separated
    instrument(lambda name: current["stages"].mark(name))
    for seconds in args.durations:
        song = work / f"song{seconds:g}.wav"
        if not song.is_file():  # kept between runs: a 600 s song takes a while to make
            synth_song(song, seconds)
        stages = current["stages"] = Stages()
        sys.argv = [str(ROOT / "test.py"), str(model), "--input", str(song), "--outdir", str(work / "out"),
                    "--force", "--quiet", *extra]
        stages.mark("start")
        try:
            runpy.run_path(str(ROOT / "test.py"), run_name="__main__")
        except SystemExit as end:
            if end.code not in (0, None):
                sys.exit(f"test.py ended with {end.code}")
        stages.stop()
        print(f"\n{seconds:g} s song: {'time':>8} {'stage':<9} {'resident MB':>17} {'in use MB':>17}")
        print(f"{'':>13}{'':>8} {'':<9} {'start':>8} {'max':>8} {'start':>8} {'max':>8}")
        segment, printed = 0, []
        for row in stages.rows:
            segment += row[0] == "stft"
            if segment <= args.segments:
                printed.append(row)
        for name, t, rss0, rss1, use0, use1 in printed:
            print(f"{'':>13}{t:>7.2f}s {name:<9} {rss0:>8.0f} {rss1:>8.0f} {use0:>8.0f} {use1:>8.0f}")
        rows = [r for r in stages.rows if r[0] != "start"]
        print(f"peak over the whole song: resident {max(r[3] for r in rows):.0f} MB, "
              f"in use {max(r[5] for r in rows):.0f} MB; segments {segment}")


if __name__ == "__main__":
    main()

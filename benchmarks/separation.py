#!/usr/bin/env python
"""Separation time and peak memory of test.py against audio duration, and the
accuracy of segmented separation against whole-song separation.

    python benchmarks/separation.py                       # 60 s and 600 s, default-size random models
    python benchmarks/separation.py --durations 60 --niter 0 1
    python benchmarks/separation.py --quality --model demo-output/model   # needs a trained model
    python benchmarks/separation.py --precision float32 bfloat16 int8 --durations 60
    python benchmarks/separation.py --compare-upstream    # ours and upstream open-unmix 1.3.0, same run
    python benchmarks/separation.py --breakdown --durations 60 [--foreground] [--parallel-targets off]
    python benchmarks/separation.py --compare-parallel --threads-list 1 2 --durations 60 --repeat 5
    python benchmarks/separation.py --durations 60 600 --batch 1 auto --repeat 3   # segments batched or not
    python benchmarks/separation.py --quality --model demo-output/model --batch 1 auto   # and their SDR
    python benchmarks/separation.py --peers --durations 60 600   # + Demucs v4 (benchmarks/peers.py)

Each run is a fresh `test.py` process (import, model load, read, separate,
write): wall time and peak RSS of that process are printed. Run it with
nothing else busy on the machine.

--compare-upstream runs upstream's `umx` command on the same models and
songs in its own environment (created once, see benchmarks/upstream.py),
alternating with ours, and prints both with the speed-up; repeated
--repeat times, the best time of each is kept. --peers does the same with
every separator registered in benchmarks/peers.py (each in an environment
of its own, created once, random weights: the same compute as the
published model) and prints the published MUSDB18 SDR of each beside its
time and memory.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, default_model_folder, machine, measure, synth_song

TARGETS = ["vocals", "drums", "bass", "other"]


def ours_command(model: Path, song: Path, outdir: Path, niter: int, segment: float, threads, precision: str,
                 batch: str = "auto"):
    cmd = [sys.executable, str(ROOT / "test.py"), str(model), "--input", str(song), "--outdir", str(outdir),
           "--niter", str(niter), "--segment", str(segment), "--quiet",
           "--force"]  # repeated runs separate again instead of skipping what the manifest lists as done
    if threads:
        cmd += ["--threads", str(threads)]
    if batch != "auto":
        cmd += ["--batch", str(batch)]
    if precision != "float32":
        cmd += ["--precision", precision]
    return cmd


def ours_env():
    """test.py's environment as a user's shell gives it: without the allocator settings that this script's
    own start-up (common.py) put there, so that test.py makes its own (and pays for its re-execution)."""
    import os

    env = dict(os.environ)
    if env.get("MALLOC_MMAP_THRESHOLD_") == str(1 << 40):
        env.pop("MALLOC_MMAP_THRESHOLD_")
    return env


def speed(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        print(f"machine: {machine()}")
        print(f"model: {model if args.model else 'untrained, default size (hidden 512, n_fft 4096, 4 targets)'}")
        print(f"{'audio':>7} {'niter':>5} {'segment':>7} {'batch':>5} {'precision':>9} {'wall':>8} {'x realtime':>10} "
              f"{'peak RSS':>9}")
        for seconds in args.durations:
            song = synth_song(tmp / f"song{seconds}.wav", seconds)
            for niter in args.niter:
                for segment in args.segment:
                    for precision in args.precision:
                        cmds = {b: ours_command(model, song, tmp / "out", niter, segment, args.threads, precision, b)
                                for b in args.batch}
                        runs = {b: [] for b in args.batch}
                        for _ in range(args.repeat):  # the batch settings interleaved: the same machine load
                            for b, cmd in cmds.items():
                                runs[b].append(measure(cmd, env=ours_env()))
                        for b in args.batch:
                            if any(rc for rc, _, _ in runs[b]):
                                sys.exit(f"test.py failed ({runs[b]})")
                            wall = min(w for _, w, _ in runs[b])
                            rss = max(r for _, _, r in runs[b])
                            print(f"{seconds:>6.0f}s {niter:>5} {segment:>6.0f}s {b:>5} {precision:>9} {wall:>7.2f}s "
                                  f"{seconds / wall:>9.1f}x {rss:>6.0f} MB", flush=True)


def breakdown(args) -> None:
    """Where the time of one test.py run goes, step by step, in this process (after a warm-up run)."""
    import subprocess

    import torch

    sys.path.insert(0, str(ROOT))
    from openunmix.filtering import FilterSettings
    from openunmix.models.hub import load_separator
    from openunmix.separation.separate import PipelineStats, separate_file
    from openunmix.transforms import OverlapAdd

    if args.threads:
        torch.set_num_threads(args.threads)

    def python_startup(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        seconds = args.durations[0]
        song = synth_song(tmp / "song.wav", seconds)
        steps = {}
        steps["python start"] = min(python_startup("pass") for _ in range(3))
        steps["import openunmix (torch)"] = min(python_startup("import openunmix.commands.separate") for _ in range(3)) - steps["python start"]
        model_steps = ("STFT + magnitude", "target models", "Wiener filter", "inverse STFT (overlap-add)")
        for rep in range(2):  # the first run warms up (allocator, oneDNN kernels)
            timers = dict.fromkeys(("load models",) + model_steps, 0.0)
            t = time.perf_counter()
            sep = load_separator(model, filter=FilterSettings(niter=args.niter[0]), precision=args.precision[0])
            timers["load models"] = time.perf_counter() - t
            if args.parallel_targets != "auto":
                sep.parallel_targets = args.parallel_targets == "on"
            if args.parallel_filter != "auto":
                sep.parallel_filter = args.parallel_filter == "on"
            if args.batch[0] != "auto":
                sep.segment_batch = int(args.batch[0])

            def timed_forward(audio):  # Separator.forward, step by step
                t0 = time.perf_counter()
                X = sep.stft(audio)
                mag = sep.complexnorm(X)
                timers["STFT + magnitude"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                V = torch.empty(mag.shape + (len(sep.targets),), dtype=mag.dtype)
                sep.fill_magnitudes(mag, V)
                timers["target models"] += time.perf_counter() - t0
                olas = [OverlapAdd((len(sep.source_names), X.shape[1]), X.shape[-1], sep.n_fft, sep.n_hop,
                                   sep.stft.window) for _ in range(X.shape[0])]  # a batch of segments
                windows = sep.filtered_windows(V, X)
                while True:
                    t0 = time.perf_counter()
                    item = next(windows, None)
                    timers["Wiener filter"] += time.perf_counter() - t0
                    if item is None:
                        break
                    t0 = time.perf_counter()
                    olas[item[0]].add(item[2], item[1])
                    timers["inverse STFT (overlap-add)"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                out = torch.stack([ola.result(audio.shape[-1]) for ola in olas])
                timers["inverse STFT (overlap-add)"] += time.perf_counter() - t0
                return out

            sep.forward = timed_forward
            stats = PipelineStats()
            separate_file(sep, song, tmp / "out", segment=args.segment[0], overlap=args.overlap[0],
                          background=not args.foreground, stats=stats)
            del sep.forward
            rest = stats.total - sum(timers[k] for k in model_steps)
            if args.foreground:  # reading inline is the wait for input
                timers["read + resample"] = stats.read
                timers["resample back + write"] = stats.write
                rest -= stats.read + stats.write
            else:
                timers["waiting for input"] = stats.input_wait
                timers["waiting for the writer"] = stats.output_wait
                rest -= stats.input_wait + stats.output_wait
            timers["cross-fade, segments, set-up"] = rest
        steps.update(timers)
    print(f"machine: {machine()}")
    print(f"{seconds:.0f} s song, niter {args.niter[0]}, {args.segment[0]:g} s segments with {args.overlap[0]:g} s "
          f"overlap ({stats.segments} segments, batch {args.batch[0]}), precision {args.precision[0]}, "
          f"{'foreground' if args.foreground else 'background'} reading and writing, "
          f"parallel targets {args.parallel_targets}, parallel filter {args.parallel_filter}; in-process, second run")
    for name, value in steps.items():
        print(f"{name:>30} {value:7.2f} s")
    print(f"{'sum':>30} {sum(steps.values()):7.2f} s")
    if not args.foreground:
        print(f"{'(background) read + resample':>30} {stats.read:7.2f} s  in the reading thread, while the models ran")
        print(f"{'(background) resample + write':>30} {stats.write:7.2f} s  in the writing thread, while the models ran")


def parallel_targets(args) -> None:
    """The target models one after the other on k threads against side by side (one thread per worker)."""
    import os

    import torch

    sys.path.insert(0, str(ROOT))
    from openunmix.filtering import FilterSettings
    from openunmix.models.hub import load_separator
    from openunmix.separation.separate import segment_plan

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        sep = load_separator(model, filter=FilterSettings(niter=args.niter[0]), precision=args.precision[0])
    rate = int(sep.sample_rate)
    seconds = args.durations[0]
    plan = segment_plan(int(seconds * rate), int(args.segment[0] * rate), int(args.overlap[0] * rate))
    n = plan[0][1] - plan[0][0]  # the longest segment of the plan
    x = torch.rand(1, sep.nb_channels, n) - 0.5
    with torch.inference_mode():
        X = sep.stft(x)
        mag = sep.complexnorm(X)
        V = sep.estimate_magnitudes(mag)
    cores = len(os.sched_getaffinity(0))

    def target_models():
        sep.estimate_magnitudes(mag)

    def wiener_filter():
        for _ in sep.filtered_windows(V, X):
            pass

    print(f"machine: {machine()}; this process may use {cores} cores")
    print(f"the target models and the Wiener filter of one {n / rate:.2f} s segment ({mag.shape[-1]} frames; the longest of a "
          f"{seconds:g} s song's {len(plan)}), best of {args.repeat}, the variants interleaved")
    print("(side by side at 1 thread runs 2 workers of 1 thread: 2 cores unless the process is bound to one)")
    print(f"{'step':>15} {'threads':>7} {'one after the other':>20} {'side by side':>13} {'workers x threads':>18} "
          f"{'ratio':>6}")
    spans = -(-X.shape[-1] // (sep.filter.wiener_win_len or X.shape[-1]))  # the filter's windows
    for k in args.threads_list:
        torch.set_num_threads(k)
        for step, fn, attr, jobs in (("target models", target_models, "parallel_targets", len(sep.target_models)),
                                     ("Wiener filter", wiener_filter, "parallel_filter", spans)):
            times = {False: [], True: []}
            for _ in range(max(2, args.repeat)):
                for parallel in (False, True):
                    setattr(sep, attr, parallel)
                    t = time.perf_counter()
                    with torch.inference_mode():
                        fn()
                    times[parallel].append(time.perf_counter() - t)
            setattr(sep, attr, None)
            seq, par = min(times[False]), min(times[True])
            workers = min(jobs, max(2, k))
            print(f"{step:>15} {k:>7} {seq:>19.3f}s {par:>12.3f}s {workers:>11} x {max(1, k // workers)}  "
                  f"{seq / par:>5.2f}x", flush=True)


def compare_upstream(args) -> None:
    """Whole-process time and peak memory of ours and upstream open-unmix 1.3.0, same models and songs."""
    import upstream

    python = upstream.ensure_env(Path(args.upstream_venv))
    env = upstream.environment(Path(args.upstream_venv))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        upstream.prepare_model_folder(model)
        niter = args.niter[0]
        print(f"machine: {machine()}")
        print(f"model: {model if args.model else 'untrained, default size (hidden 512, n_fft 4096, 4 targets)'}; "
              f"niter {niter}; both on the CPU; best of {args.repeat}")
        print(f"{'audio':>7} {'ours':>8} {'peak RSS':>9} {'upstream':>9} {'peak RSS':>9} {'speed-up':>8}")
        for seconds in args.durations:
            song = synth_song(tmp / f"song{seconds}.wav", seconds)
            ours_cmd = ours_command(model, song, tmp / "ours", niter, args.segment[0], args.threads, "float32")
            theirs_cmd = upstream.command(python, model, song, tmp / "upstream", TARGETS, niter)
            ours, theirs = [], []
            for _ in range(args.repeat):  # alternating, so that both see the same machine load
                ours.append(measure(ours_cmd, env=ours_env()))
                theirs.append(measure(theirs_cmd, env=env))
            if any(rc for rc, _, _ in ours):
                sys.exit("test.py failed")
            ok = [r for r in theirs if r[0] == 0]
            o_wall, o_rss = min(w for _, w, _ in ours), max(r for _, _, r in ours)
            if not ok:
                print(f"{seconds:>6.0f}s {o_wall:>7.2f}s {o_rss:>6.0f} MB   upstream failed (exit {theirs[0][0]})",
                      flush=True)
                continue
            t_wall, t_rss = min(w for _, w, _ in ok), max(r for _, _, r in ok)
            print(f"{seconds:>6.0f}s {o_wall:>7.2f}s {o_rss:>6.0f} MB {t_wall:>8.2f}s {t_rss:>6.0f} MB "
                  f"{t_wall / o_wall:>7.2f}x", flush=True)


def _sdr(value: float) -> str:
    return "-" if value != value else f"{value:.2f} dB"  # NaN: not published / not checked


def peers(args) -> None:
    """Ours, upstream 1.3.0 and every registered peer (benchmarks/peers.py) on the same songs: time, peak RSS and
    the published MUSDB18 SDR of each."""
    import json

    import peers as registry
    import upstream

    if args.demucs_kwargs:
        registry.DEMUCS_KWARGS.update(json.loads(args.demucs_kwargs))
    registry.PEERS_VENV[0] = args.peers_venv
    if args.replot:
        if not (args.json and args.plot):
            sys.exit("--replot needs --json FILE (the rows of an earlier --peers run) and --plot PNG")
        saved = json.loads(Path(args.json).read_text())
        plot_quality_against_cost(saved["rows"], Path(args.plot), saved["machine"])
        print(f"plot: {args.plot} (from {args.json})")
        return
    rows = []  # (name, python, env, command(song, outdir), published SDR, source)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        upstream.prepare_model_folder(model)
        niter = args.niter[0]
        rows.append(("ours (test.py)", lambda song, out: ours_command(model, song, out, niter, args.segment[0],
                                                                      args.threads, "float32", args.batch[0]),
                     ours_env(), registry.UMX_SDR, registry.UMX_SOURCE))
        up_python = upstream.ensure_env(Path(args.upstream_venv))
        rows.append(("upstream 1.3.0 (umx)",
                     lambda song, out: upstream.command(up_python, model, song, out, TARGETS, niter),
                     upstream.environment(Path(args.upstream_venv)), registry.UMX_SDR, registry.UMX_SOURCE))
        for peer in registry.PEERS.values():
            if args.only and peer.name.split()[0] not in args.only:
                continue
            python = peer.ensure_env(Path(args.peers_venv))
            rows.append((peer.name, lambda song, out, peer=peer, python=python: peer.command(python, song, out),
                         peer.environment(Path(args.peers_venv)), peer.published_sdr, peer.source))
        print(f"machine: {machine()}")
        print(f"ours and upstream: {'the models of ' + str(model) if args.model else 'untrained umxhq-size models'}, "
              f"niter {niter}; peers: random weights (benchmarks/peers.py); CPU; "
              f"best of {args.repeat}, the programs interleaved")
        print(f"{'program':>24} {'audio':>6} {'wall':>8} {'x realtime':>10} {'peak RSS':>9} {'published SDR':>13}")
        measured = []  # one dict per (program, song) that ran
        for seconds in args.durations:
            song = synth_song(tmp / f"song{seconds}.wav", seconds)
            runs = {name: [] for name, *_ in rows}
            for _ in range(args.repeat):
                for i, (name, command, env, _, _) in enumerate(rows):
                    runs[name].append(measure(command(song, tmp / f"out{i}"), env=env))
            for name, _, _, published, _ in rows:
                ok = [r for r in runs[name] if r[0] == 0]
                if not ok:
                    print(f"{name:>24} {seconds:>5.0f}s   failed (exit {runs[name][0][0]})", flush=True)
                    continue
                wall, rss = min(w for _, w, _ in ok), max(r for _, _, r in ok)
                measured.append({"program": name, "audio_seconds": seconds, "wall_seconds": wall,
                                 "peak_rss_mb": rss, "published_sdr": published})
                print(f"{name:>24} {seconds:>5.0f}s {wall:>7.2f}s {seconds / wall:>9.1f}x {rss:>6.0f} MB "
                      f"{_sdr(published):>13}", flush=True)
        print("published SDR (MUSDB18 test, average of vocals, drums, bass, other):")
        for name, _, _, published, source in rows:
            print(f"  {name}: {_sdr(published)}: {source}")
        for peer in registry.PEERS.values():
            if peer.note:
                print(f"  note, {peer.name}: {peer.note}")
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": machine(), "niter": niter, "repeat": args.repeat,
                                                   "rows": measured}, indent=1) + "\n")
            print(f"results: {args.json}")
        if args.plot:
            plot_quality_against_cost(measured, Path(args.plot), machine())
            print(f"plot: {args.plot}")


def plot_quality_against_cost(measured, path: Path, machine_line: str) -> None:
    """Published MUSDB18 SDR against the seconds each program took, one panel per song length (programs
    without a published figure are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted({m["audio_seconds"] for m in measured})
    fig, axes = plt.subplots(1, len(lengths), figsize=(6.5 * len(lengths), 4.6), squeeze=False)
    for ax, length in zip(axes[0], lengths):
        shown = sorted((m for m in measured if m["audio_seconds"] == length and m["published_sdr"] is not None),
                       key=lambda m: m["wall_seconds"])
        same = {}  # programs of equal published SDR (ours and upstream): labels above and below in turn
        for m in shown:
            k = same[m["published_sdr"]] = same.get(m["published_sdr"], -1) + 1
            ax.scatter(m["wall_seconds"], m["published_sdr"], s=30 + m["peak_rss_mb"] / 20, alpha=0.7)
            ax.annotate(f"{m['program']}\n{m['wall_seconds']:.1f} s, {m['peak_rss_mb']:.0f} MB",
                        (m["wall_seconds"], m["published_sdr"]), textcoords="offset points",
                        xytext=(8, 6 if k % 2 == 0 else -22), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(f"seconds to separate a {length:.0f} s song (whole process)")
        ax.set_ylabel("published MUSDB18 SDR (dB, mean of 4 targets)")
        ax.grid(True, which="both", alpha=0.3)
        ax.margins(x=0.6, y=0.15)
    fig.suptitle(f"quality against cost (marker area ~ peak RSS)\n{machine_line}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def quality(args) -> None:
    """SDR of segmented vs whole-song separation on a long synthetic song with known stems."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from openunmix.demo import synthesize_track
    from openunmix.filtering import FilterSettings
    from openunmix.models.hub import load_separator
    from openunmix.separation.separate import segment_batch, separate

    if not args.model:
        sys.exit("--quality needs --model DIR (a trained model, e.g. the demo's)")
    sep = load_separator(args.model, filter=FilterSettings(niter=args.niter[0]))
    seconds = args.quality_duration
    stems = synthesize_track(np.random.default_rng(123), seconds, int(sep.sample_rate))
    mix = torch.from_numpy(stems["mixture"])
    refs = {}
    for name in sep.source_names:
        if name in stems:
            refs[name] = stems[name]
        elif name == "accompaniment":
            refs[name] = stems["mixture"] - stems["vocals"]
    whole = separate(sep, mix, segment=None).numpy()
    print(f"song: {seconds:.0f} s synthetic, model {args.model}, niter {args.niter[0]}")
    print(f"{'segment':>8} {'overlap':>7} {'batch (K)':>9} " + " ".join(f"{n + ' dB':>18}" for n in refs)
          + "  (global SDR, whole-song value in brackets)")

    def sdr(ref, est):
        return 10 * np.log10((np.sum(ref**2) + 1e-9) / (np.sum((ref - est) ** 2) + 1e-9))

    base = {n: sdr(r, whole[sep.source_names.index(n)]) for n, r in refs.items()}
    rate = sep.sample_rate
    for segment, overlap, batch in [(s, o, b) for s in args.segment for o in args.overlap for b in args.batch]:
        sep.segment_batch = None if batch == "auto" else int(batch)
        k = sep.segment_batch or segment_batch(mix.shape[-1], int(round(segment * rate)),
                                               min(int(round(overlap * rate)), int(round(segment * rate)) - 1),
                                               rate=rate)
        est = separate(sep, mix, segment=segment, overlap=overlap).numpy()
        cells = []
        for n, r in refs.items():
            d = sdr(r, est[sep.source_names.index(n)])
            cells.append(f"{d:7.3f} ({base[n]:6.3f})")
        diff = max(abs(sdr(r, est[sep.source_names.index(n)]) - base[n]) for n, r in refs.items())
        print(f"{segment:>7.0f}s {overlap:>6.1f}s {f'{batch} ({k})':>9} " + " ".join(f"{c:>18}" for c in cells)
              + f"  max |diff| {diff:.3f} dB", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model folder (default: untrained default-size models)")
    p.add_argument("--durations", type=float, nargs="+", default=[60, 600])
    p.add_argument("--niter", type=int, nargs="+", default=[1])
    p.add_argument("--segment", type=float, nargs="+", default=[30.0])
    p.add_argument("--overlap", type=float, nargs="+", default=[4.0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "bfloat16", "int8"],
                   help="test.py --precision values to time")
    p.add_argument("--repeat", type=int, default=1, help="runs per setting; the best time is printed")
    p.add_argument("--compare-upstream", action="store_true",
                   help="also run upstream open-unmix 1.3.0 (installed once into --upstream-venv)")
    p.add_argument("--upstream-venv", default="/tmp/upstream-venv")
    p.add_argument("--breakdown", action="store_true",
                   help="time each step of separating the first of --durations in this process")
    p.add_argument("--foreground", action="store_true",
                   help="--breakdown: read and write in the separating thread (as before issue 20)")
    p.add_argument("--parallel-targets", choices=["auto", "on", "off"], default="auto",
                   help="--breakdown: the separator's parallel_targets (auto: side by side at 2+ threads)")
    p.add_argument("--parallel-filter", choices=["auto", "on", "off"], default="auto",
                   help="--breakdown: the separator's parallel_filter (auto: its default, one chunk at a time)")
    p.add_argument("--compare-parallel", action="store_true",
                   help="time the target models of one segment one after the other against side by side, "
                        "at each of --threads-list (for 1 core, run under taskset -c 0)")
    p.add_argument("--threads-list", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", nargs="+", default=["auto"],
                   help="test.py --batch values to time (auto: its default), and --quality's (auto: the default "
                        "K; 1: one segment at a time); --breakdown and --peers take the first")
    p.add_argument("--peers", action="store_true",
                   help="ours, upstream 1.3.0 and the peers of benchmarks/peers.py (Demucs v4), each in its own "
                        "environment (created once), with their published MUSDB18 SDR")
    p.add_argument("--peers-venv", default="/tmp/peers-venv")
    p.add_argument("--only", nargs="+", default=None, help="--peers: only these peers (first word of their name)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="--peers: a plot of published SDR against seconds per song (one panel per duration)")
    p.add_argument("--json", default=None, metavar="FILE", help="--peers: the measured rows as json")
    p.add_argument("--replot", action="store_true",
                   help="--peers: draw --plot from the rows an earlier run wrote to --json; run nothing")
    p.add_argument("--demucs-kwargs", default=None,
                   help="--peers: JSON of HTDemucs constructor arguments that replace its class defaults")
    p.add_argument("--quality", action="store_true", help="compare segmented with whole-song separation")
    p.add_argument("--quality-duration", type=float, default=120.0)
    a = p.parse_args()
    if a.repeat < 1 or (a.threads is not None and a.threads < 1) or not all(d > 0 for d in a.durations):
        p.error("--repeat, --threads and --durations must be > 0")
    if not all(b == "auto" or b.isdigit() and int(b) >= 1 for b in a.batch):
        p.error("--batch takes auto or integers >= 1")
    if a.quality:
        quality(a)
    elif a.peers:
        peers(a)
    elif a.breakdown:
        breakdown(a)
    elif a.compare_parallel:
        parallel_targets(a)
    elif a.compare_upstream:
        compare_upstream(a)
    else:
        speed(a)

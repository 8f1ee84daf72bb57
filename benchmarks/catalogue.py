#!/usr/bin/env python
"""Throughput of test.py on a catalogue: the same generated files with 1 and with 2 CPU processes
(and with N GPUs where there are GPUs), in files per hour and as a real-time factor.

    python benchmarks/catalogue.py                      # 20 files of 10-48 s, default-size random models
    python benchmarks/catalogue.py --files 8 --niter 0
    python benchmarks/catalogue.py --gpus 8             # also torchrun with 8 processes, one GPU each
    python benchmarks/catalogue.py --compare            # also upstream's umx and ours, one process per song

On the CPU it runs, one after the other and each into a fresh output folder:

    1 process  x 1 thread    test.py --threads 1
    1 process  x 2 threads   test.py --threads 2
    2 processes x 1 thread   torchrun --standalone --nproc_per_node 2 test.py --threads 1

Each is timed from the start of the command to its end (start-up, model loads, reading the file
headers, separating, writing, the manifest), so the figures are what a user waits for. The songs are
synthetic (the demo generator's music, stereo 44.1 kHz), of different lengths so that the shares are
balanced by length. Run it with nothing else busy on the machine.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from common import ROOT, default_model_folder, machine, measure, synth_song


def configurations(gpus: int):
    """(label, processes, threads per process, on the GPU)."""
    runs = [("1 process  x 1 thread", 1, 1, False), ("1 process  x 2 threads", 1, 2, False),
            ("2 processes x 1 thread", 2, 1, False)]
    if gpus:
        runs.append((f"{gpus} process{'es' if gpus > 1 else ''} x 1 GPU", gpus, None, True))
    return runs


def command(processes: int, threads, gpu: bool, model: Path, inputs: Path, outdir: Path, niter: int):
    args = [str(model), "--input-list", str(inputs), "--outdir", str(outdir), "--niter", str(niter), "--quiet"]
    if threads:
        args += ["--threads", str(threads)]
    if not gpu:
        args.append("--no-cuda")
    if processes == 1:
        return [sys.executable, str(ROOT / "test.py"), *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
            str(ROOT / "test.py"), *args]


def main(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else default_model_folder(tmp / "model")
        durations = [args.shortest + args.step * i for i in range(args.files)]
        songs = [synth_song(tmp / f"song{i:02d}.wav", seconds, seed=i) for i, seconds in enumerate(durations)]
        (tmp / "list.txt").write_text("".join(f"{s}\n" for s in songs))
        audio = sum(durations)
        print(f"machine: {machine()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"model: {model if args.model else 'untrained, default size (hidden 512, n_fft 4096, 4 targets)'}; "
              f"niter {args.niter}; {len(songs)} files, {audio:.0f} s of audio ({min(durations):.0f}-"
              f"{max(durations):.0f} s each)")
        print(f"{'':<24} {'wall':>8} {'files/hour':>11} {'x realtime':>10} {'peak RSS':>9}")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        for i, (label, processes, threads, gpu) in enumerate(configurations(args.gpus)):
            cmd = command(processes, threads, gpu, model, tmp / "list.txt", tmp / f"out{i}", args.niter)
            rc, wall, rss = measure(cmd, env=env)
            if rc:
                sys.exit(f"{label}: test.py failed (exit {rc}): {' '.join(cmd)}")
            print(f"{label:<24} {wall:>7.1f}s {len(songs) * 3600 / wall:>11.0f} {audio / wall:>9.1f}x "
                  f"{rss:>6.0f} MB", flush=True)
        if args.compare:
            compare(args, model, songs, audio, tmp, env)
        print("peak RSS: of the largest process (torchrun: of one of its workers, one process per song: of the "
              "largest)")


def compare(args, model: Path, songs, audio: float, tmp: Path, env) -> None:
    """Upstream's ``umx`` over the same songs, one process per song as its users run it, beside ours the same
    way (torch's default threads; ours with the list in one process is the row "1 process x 2 threads")."""
    import upstream

    python = upstream.ensure_env(Path(args.upstream_venv))
    up_env = upstream.environment(Path(args.upstream_venv))
    upstream.prepare_model_folder(model)
    targets = sorted(p.stem for p in model.glob("*.pth"))
    rows = {
        "ours, a process per song": lambda song, out: [sys.executable, str(ROOT / "test.py"), str(model), "--input",
                                                       str(song), "--outdir", str(out), "--niter", str(args.niter),
                                                       "--quiet", "--no-cuda"],
        "upstream umx, per song": lambda song, out: upstream.command(python, model, song, out, targets,
                                                                           args.niter),
    }
    envs = {"ours, a process per song": env, "upstream umx, per song": up_env}
    totals = {name: [0.0, 0.0] for name in rows}
    for i, song in enumerate(songs):  # the two interleaved song by song: the same machine load
        for name, command in rows.items():
            rc, wall, rss = measure(command(song, tmp / f"cmp-{i}-{len(name)}"), env=envs[name])
            if rc:
                sys.exit(f"{name}: failed on {song} (exit {rc})")
            totals[name][0] += wall
            totals[name][1] = max(totals[name][1], rss)
    for name, (wall, rss) in totals.items():
        print(f"{name:<24} {wall:>7.1f}s {len(songs) * 3600 / wall:>11.0f} {audio / wall:>9.1f}x {rss:>6.0f} MB",
              flush=True)
    ours, theirs = totals["ours, a process per song"][0], totals["upstream umx, per song"][0]
    print(f"a process per song: ours {theirs / ours:.2f}x upstream's files per hour")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model folder (default: untrained default-size models)")
    p.add_argument("--files", type=int, default=20, help="number of files (default: %(default)s)")
    p.add_argument("--shortest", type=float, default=10.0, help="seconds of the shortest file (default: %(default)s)")
    p.add_argument("--step", type=float, default=2.0, help="seconds each next file is longer (default: %(default)s)")
    p.add_argument("--niter", type=int, default=1, help="EM iterations, as test.py --niter (default: %(default)s)")
    p.add_argument("--gpus", type=int, default=0, help="also run torchrun with this many GPU processes (default: none)")
    p.add_argument("--compare", action="store_true",
                   help="also run upstream open-unmix 1.3.0's umx (installed once into --upstream-venv, see "
                        "benchmarks/upstream.py) and ours over the same songs, one process per song")
    p.add_argument("--upstream-venv", default="/tmp/upstream-venv")
    main(p.parse_args())

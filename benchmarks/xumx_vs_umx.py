"""X-UMX against Open-Unmix: same data, augmentation, model size, filter and evaluation, same wall-clock budget.

Trains Open-Unmix as four separate target models, one after the other, each
for a quarter of the budget, and X-UMX (one joint model) for the whole
budget; every run is ``train.py`` as a fresh process, stopped with Ctrl-C
(SIGINT) when its time is up (it keeps the best epoch finished so far).
Then ``eval.py`` scores both model folders on the test tracks (``--niter 1``)
and the median SDR per target and the average over the four targets are
printed side by side.

    python benchmarks/xumx_vs_umx.py --root demo-output/data --budget 240 --workdir /tmp/xumx-vs-umx
    # on a shared machine: the budget in CPU seconds of the training process / 2 cores
    python benchmarks/xumx_vs_umx.py --root demo-output/data --budget 240 --clock cpu --train-cores 2

``--root`` is a MUSDB18 wav layout (e.g. ``python -m openunmix.demo --root DIR``).
Run it on a quiet machine (or with `--clock cpu`): the budget is wall-clock time.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["vocals", "drums", "bass", "other"]
# published MUSDB18 test scores (median SDR in dB) of the two models, for reference
PUBLISHED = {
    "UMX (umxhq)": {"vocals": 6.25, "drums": 6.04, "bass": 5.07, "other": 4.28},
    "X-UMX": {"vocals": 6.61, "drums": 6.47, "bass": 5.43, "other": 4.64},
}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads), from /proc."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def train_for(seconds: float, args: List[str], log: Path, clock: str, cores: int) -> Dict[str, float]:
    """Run ``train.py args`` until its budget is spent, then interrupt it (it keeps its last finished epoch).

    ``clock='wall'``: ``seconds`` of wall-clock time. ``clock='cpu'``: ``seconds * cores``
    CPU seconds of the training process, what it would use in ``seconds`` on ``cores``
    otherwise idle cores (fairer on a shared machine).
    """
    t0 = time.perf_counter()
    with open(log, "w") as out:
        # SIGINT back to its default in the child: a benchmark started in the background
        # (nohup, `cmd &`) ignores it, and its children would inherit that
        proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        cpu = 0.0
        while proc.poll() is None:
            try:
                cpu = _cpu_seconds(proc.pid)
            except (OSError, IndexError, ValueError):
                pass
            spent = cpu / cores if clock == "cpu" else time.perf_counter() - t0
            if spent >= seconds:
                proc.send_signal(signal.SIGINT)  # saves the last finished epoch, exit status 130
                proc.wait()
                break
            time.sleep(0.2)
    if proc.returncode not in (0, 130):
        raise SystemExit(f"error: train.py failed ({proc.returncode}); see {log}")
    return {"wall": time.perf_counter() - t0, "cpu": cpu}


def evaluate(model: Path, root: Path, work: Path, niter: int, cores: int) -> Dict[str, float]:
    """Median SDR per target from ``eval.py`` (``results.csv``)."""
    evaldir = work / "eval"
    cmd = [sys.executable, str(ROOT / "eval.py"), str(model), "--root", str(root), "--is-wav", "--subset", "test",
           "--niter", str(niter), "--outdir", str(work / "estimates"), "--evaldir", str(evaldir),
           "--cores", str(cores), "--force", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"error: eval.py failed: {r.stderr.strip()}")
    with open(evaldir / "results.csv") as f:
        return {row["target"]: float(row["SDR"]) for row in csv.DictReader(f)}


def epochs_of(model: Path, stem: str) -> int:
    import json

    try:
        return int(json.loads((model / f"{stem}.json").read_text())["epochs_trained"])
    except (OSError, KeyError, ValueError):
        return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="MUSDB18 wav layout with train/ and test/ (e.g. the demo data)")
    p.add_argument("--workdir", default="xumx-vs-umx", help="where models, estimates and scores go")
    p.add_argument("--budget", type=float, default=240.0,
                   help="wall-clock seconds of training per model type (UMX: a quarter per target)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="budget in wall-clock seconds, or in CPU seconds / --train-cores (default: %(default)s)")
    p.add_argument("--train-cores", type=int, default=2, help="cores a training may use (--clock cpu)")
    p.add_argument("--niter", type=int, default=1, help="EM iterations of the Wiener filter at evaluation")
    p.add_argument("--cores", type=int, default=2, help="eval.py --cores")
    p.add_argument("--train-args", default="--hidden-size 128 --nfft 2048 --nhop 512 --seq-dur 4 "
                   "--samples-per-track 8 --batch-size 16 --patience 1000 --epochs 100000 --quiet",
                   help="train.py arguments shared by both model types")
    a = p.parse_args()
    if not (a.budget > 0 and a.niter >= 0 and a.cores > 0 and a.train_cores > 0):
        p.error("--budget, --cores and --train-cores must be > 0, --niter >= 0")
    root, work = Path(a.root), Path(a.workdir)
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        p.error(f"--root {root}: no train/ and test/ folders")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    common = ["--dataset", "musdb", "--root", str(root), "--is-wav", *a.train_args.split()]

    umx = work / "umx"
    epochs = {}
    for target in TARGETS:
        t = train_for(a.budget / len(TARGETS), [*common, "--target", target, "--output", str(umx)],
                      work / f"umx-{target}.log", a.clock, a.train_cores)
        epochs[f"umx {target}"] = epochs_of(umx, target)
        print(f"umx {target}: {epochs[f'umx {target}']} epochs, {t['wall']:.0f} s wall, {t['cpu']:.0f} s CPU",
              flush=True)
    xumx = work / "xumx"
    t = train_for(a.budget, [*common, "--architecture", "xumx", "--output", str(xumx)], work / "xumx.log",
                  a.clock, a.train_cores)
    epochs["xumx"] = epochs_of(xumx, "xumx")
    print(f"xumx: {epochs['xumx']} epochs, {t['wall']:.0f} s wall, {t['cpu']:.0f} s CPU", flush=True)

    scores = {
        "UMX": evaluate(umx, root, work / "umx-eval", a.niter, a.cores),
        "X-UMX": evaluate(xumx, root, work / "xumx-eval", a.niter, a.cores),
    }
    print(f"\nmedian SDR (dB) on {root}/test, eval.py --niter {a.niter}; training budget {a.budget:.0f} s "
          f"({a.clock} clock) per model type ({a.budget / len(TARGETS):.0f} s per UMX target); "
          f"train.py {a.train_args}")
    print(f"{'target':10s} {'UMX':>8s} {'X-UMX':>8s} {'diff':>8s}")
    nan = float("nan")  # a target without a finished epoch has no score
    for target in TARGETS + ["average"]:
        if target == "average":
            u = sum(scores["UMX"].get(t, nan) for t in TARGETS) / len(TARGETS)
            x = sum(scores["X-UMX"].get(t, nan) for t in TARGETS) / len(TARGETS)
        else:
            u, x = scores["UMX"].get(target, nan), scores["X-UMX"].get(target, nan)
        print(f"{target:10s} {u:8.2f} {x:8.2f} {x - u:+8.2f}")
    print("\npublished MUSDB18 test scores (median SDR, dB), for reference:")
    for name, table in PUBLISHED.items():
        avg = sum(table.values()) / len(table)
        print(f"  {name:12s} " + "  ".join(f"{t} {table[t]:.2f}" for t in TARGETS) + f"  average {avg:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

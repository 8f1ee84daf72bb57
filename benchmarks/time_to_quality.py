#!/usr/bin/env python
"""Time to quality: held-out SDR against training time and steps, for training recipes side by side.

    python -m openunmix.demo --root /tmp/ttq-data --nb-train 40 --nb-valid 4 --nb-test 10 \\
        --duration 16 --variety wide
    python -m openunmix.demo --root /tmp/ttq-kinds --nb-train 20 --nb-valid 4 --nb-test 10 \\
        --duration 16 --variety kinds
    python benchmarks/time_to_quality.py --root wide=/tmp/ttq-data kinds=/tmp/ttq-kinds --budget 1200 \\
        --seeds 1 2 3 --recipes "upstream-rtm=--recipe upstream --random-track-mix" default \\
        --parallel 2 --out /tmp/ttq

``--root`` takes one data set or several (``LABEL=PATH``; the label of a bare
path is its folder name): every (set, recipe, seed) is a run, the report has
a table per set, and a last table says for each recipe, against the first,
on which sets it wins or loses and whether the difference is larger than
the spread between seeds. The ``wide`` set's test songs are new songs of the
training songs' kind (held-out keys and vocal levels); the ``kinds`` set's
are another kind of music (other voices, instruments and tempi, a vocal
hall) after 20 training songs: it measures how a recipe generalizes.

Each recipe is a named ``train.py`` recipe (``v1``, ``default``, ``upstream``)
or ``LABEL=FLAGS``, train.py flags in one string, e.g.
``"bs8=--recipe v1 --batch-size 8"``. Every (recipe, seed) run is a fresh
process that trains the vocals model of ``train.py`` (its library,
:class:`openunmix.training.Trainer`) under a budget of ``--budget``
seconds and stops there. The clock starts before the run is built, so it
includes the dataset statistics pass and any ``torch.compile``.

``--clock cpu`` (the default) counts the CPU time of the training process,
which runs on ``--threads`` threads (1 by default) and loads data in the
process (``--nb-workers 0``): on a quiet machine that equals wall time, and
it stays fair when ``--parallel`` runs share the machine (each then has a
core of its own on a 2-core machine). ``--clock wall`` counts wall time;
only meaningful one run at a time on a quiet machine.

At each of ``--points`` (fractions of the budget) the run takes a copy of
the weights; the clock stops while it does, and nothing of training (random
streams, steps) changes. After training, each copy separates the test
tracks of ``--root`` (``test/``, never trained on: see ``--variety wide`` of
``python -m openunmix.demo`` for how they differ) into vocals and
accompaniment (one EM iteration), and museval scores them (BSSEval v4, 1 s
windows): the median over frames per track, then the median over tracks.

Printed per recipe (the mean over seeds, and each seed): SDR at each point,
the area under the SDR-time curve divided by the budget (the mean SDR over
the budget, in dB), the SDR at 25 %, 50 % and 100 % of the budget, the
time at which the recipe first reaches the first recipe's final SDR
(linear interpolation between points; "-" if it never does), seconds per
step, and the shares of the budget spent waiting for data and validating.
Plots of vocals SDR against seconds and against steps are written to
``--out``. Results are kept per run in ``--out``: running again with more
recipes or seeds only trains what is missing. Each run's json keeps every
setting of its training (``config``, what ``train.py`` parsed), the commit,
the machine, and ``command``: the one command that trains and scores that
run again, every point of its curve (into ``OUT/rerun``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = "vocals"
DEFAULT_POINTS = (0.125, 0.25, 0.5, 0.75, 1.0)


# ---------------------------------------------------------------------------
# one run (a worker process)


def _clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def snapshot_taker(points: Sequence[float], clock: Any) -> Any:
    """A training callback that copies the weights at each of ``points`` (seconds of ``clock`` since it was
    made, the copying itself not counted) and stops the run after the last one; its ``snapshots`` hold
    the copies. It also keeps the weights that model selection would save, by validation loss and by
    validation SDR (``selected``: ``{"loss" | "sdr": {"epoch", "value", "weights"}}``), whatever the run's
    ``--select-by``: both are measured in one run, on the same training."""
    from openunmix.training.callbacks import Callback

    class SnapshotTaker(Callback):
        def __init__(self) -> None:
            self.snapshots: List[Dict[str, Any]] = []
            self.selected: Dict[str, Dict[str, Any]] = {}
            self.paused = 0.0
            self.start = clock()

        def on_validation(self, trainer: Any, epoch: int, valid_loss: float) -> None:
            if len(self.snapshots) == len(points):
                return
            t0 = clock()
            values = {"loss": -valid_loss}  # larger is better for both
            if trainer.valid_sdr:
                values["sdr"] = sum(trainer.valid_sdr.values()) / len(trainer.valid_sdr)
            for key, value in values.items():
                if key not in self.selected or value > self.selected[key]["value"]:
                    self.selected[key] = {"epoch": epoch, "value": value,
                                          "weights": {k: v.detach().clone() for k, v in trainer.eval_state().items()}}
            self.paused += clock() - t0

        def on_step(self, trainer: Any, step: int) -> bool:
            snapshots = self.snapshots
            now = clock() - self.start - self.paused
            while len(snapshots) < len(points) and now >= points[len(snapshots)]:
                t0 = clock()
                snapshots.append({
                    "seconds": points[len(snapshots)], "reached_at": now, "step": step,
                    "epoch": trainer.state["epoch"] + 1,
                    # the weights validated: the average with --ema
                    "weights": {k: v.detach().clone() for k, v in trainer.eval_state().items()},
                    "valid_seconds": sum(trainer.state.get("valid_time_history", [])),
                    "data_wait": sum(trainer.state.get("data_wait_history", [])) + trainer.data_wait,
                })
                self.paused += clock() - t0
            return len(snapshots) == len(points)

    return SnapshotTaker()


def train_run(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Train one recipe under the budget; returns the snapshots' times, steps and weights' scores."""
    import torch

    from openunmix.commands.train import parse_args
    from openunmix.training import Trainer

    torch.set_num_threads(spec["threads"])
    flags = shlex.split(spec["flags"]) + ["--root", spec["root"], "--output", spec["outdir"], "--seed",
                                          str(spec["seed"]), "--nb-workers", "0", "--quiet", "--no-cuda",
                                          "--target", TARGET, "--is-wav"]
    cfg = parse_args(flags)
    budget = float(spec["budget"])
    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("output",)}
    points = sorted(float(p) * budget for p in spec["points"])
    clock = _clock(spec["clock"])
    taker = snapshot_taker(points, clock)  # the clock starts here, before the run is built
    trainer = Trainer(cfg, callbacks=[taker])
    trainer.clock = clock  # data waits and validations in the budget's clock
    with torch.random.fork_rng():
        trainer.run()
    snapshots = taker.snapshots
    if len(snapshots) < len(points):
        raise SystemExit(f"{spec['label']}: training ended (epochs or early stopping) before the budget")
    model = trainer.model
    scores = score_snapshots(model, snapshots, trainer, spec)
    for snap, score in zip(snapshots, scores):
        snap.pop("weights")
        snap.update(score)
    selected = {key: {"epoch": sel["epoch"], "value": sel["value"]} for key, sel in taker.selected.items()}
    for key, score in zip(taker.selected, score_snapshots(model, list(taker.selected.values()), trainer, spec)):
        selected[key].update(score)
    last = snapshots[-1]
    return {"label": spec["label"], "set": spec["set"], "root": spec["root"], "flags": spec["flags"],
            "seed": spec["seed"], "budget": budget, "clock": spec["clock"], "threads": spec["threads"],
            "points": snapshots, "seconds_per_step": last["reached_at"] / max(1, last["step"]),
            # held-out scores of the weights selection by validation loss / SDR keeps within the budget
            "selected": selected,
            # seconds waiting for batches per step and their share of the budget, both in the budget's clock
            "data_wait_per_step": last["data_wait"] / max(1, last["step"]),
            "data_wait_share": last["data_wait"] / max(last["reached_at"], 1e-9),
            "batch_size": cfg.batch_size, "seq_dur": cfg.seq_dur, "config": config,
            "command": spec["command"], "commit": spec["commit"], "machine": machine_line()}


def _test_tracks(root: Path) -> List[Tuple[str, Any, Any, float]]:
    """``(name, mixture, vocals, rate)`` of each test track, arrays ``(channels, samples)``."""
    import soundfile as sf

    tracks = []
    for folder in sorted((root / "test").iterdir()):
        if not (folder / "mixture.wav").is_file():
            continue
        mix, rate = sf.read(folder / "mixture.wav", dtype="float32", always_2d=True)
        voc, _ = sf.read(folder / "vocals.wav", dtype="float32", always_2d=True)
        tracks.append((folder.name, mix.T, voc.T, float(rate)))
    if not tracks:
        raise SystemExit(f"{root}/test: no test tracks")
    return tracks


def score_snapshots(model: Any, snapshots: Sequence[Dict[str, Any]], trainer: Any,
                    spec: Dict[str, Any]) -> List[Dict[str, float]]:
    """Vocals and accompaniment SDR (median over frames, then over tracks) of each snapshot."""
    import museval
    import numpy as np
    import torch

    from openunmix.evaluation.estimates import separate_array
    from openunmix.filtering import FilterSettings
    from openunmix.separation.separator import Separator

    tracks = _test_tracks(Path(spec["root"]))
    cfg = trainer.cfg
    out = []
    for snap in snapshots:
        model.load_state_dict(snap["weights"])
        model.eval()
        sep = Separator({TARGET: model}, filter=FilterSettings(niter=1, residual=True),
                        sample_rate=trainer.sample_rate, n_fft=trainer.part.n_fft, n_hop=trainer.part.n_hop,
                        nb_channels=cfg.nb_channels).eval()
        per_track = {"vocals": [], "accompaniment": []}
        with torch.inference_mode():
            for name, mix, voc, rate in tracks:
                est = separate_array(sep, mix, rate, segment=30.0, overlap=4.0)  # (2, channels, samples)
                refs = np.stack([voc, mix - voc])
                win = int(rate)
                sdr, _, _, _ = museval.evaluate(refs.transpose(0, 2, 1), est.transpose(0, 2, 1), win=win, hop=win)
                per_track["vocals"].append(float(np.nanmedian(sdr[0])))
                per_track["accompaniment"].append(float(np.nanmedian(sdr[1])))
        out.append({k: float(np.median(v)) for k, v in per_track.items()})
    return out


# ---------------------------------------------------------------------------
# the runs and the report (the parent process)


def parse_recipe(text: str) -> Tuple[str, str]:
    """``'v1'`` -> ``('v1', '--recipe v1')``; ``'bs8=--batch-size 8'`` -> ``('bs8', '--batch-size 8')``."""
    if "=" in text.split(" ")[0]:
        label, flags = text.split("=", 1)
        return label, flags
    return text, f"--recipe {text}"


def parse_set(text: str) -> Tuple[str, str]:
    """``'kinds=/tmp/ttq-kinds'`` -> ``('kinds', '/tmp/ttq-kinds')``; a bare path is labelled by its folder name."""
    if "=" in text:
        label, path = text.split("=", 1)
        return label, path
    return Path(text).resolve().name, text


def run_key(job: "Job", args: argparse.Namespace) -> str:
    return f"{job.set}-{job.label}-seed{job.seed}-{args.clock}{int(args.budget)}s-t{args.threads}"


class Job(NamedTuple):
    """One run: a recipe (``label``, train.py ``flags``) and a seed on a data set (``set`` at ``root``)."""

    set: str
    root: str
    label: str
    flags: str
    seed: int


def rerun_command(job: Job, args: argparse.Namespace) -> str:
    """The command that trains and scores ``job`` again, alone, with every point of its curve."""
    words = ["python", "benchmarks/time_to_quality.py", "--root", f"{job.set}={Path(job.root).resolve()}",
             "--recipes", f"{job.label}={job.flags}", "--seeds", str(job.seed), "--budget", f"{args.budget:g}",
             "--points", *[f"{p:g}" for p in args.points], "--clock", args.clock, "--threads", str(args.threads),
             "--out", str(Path(args.out).resolve() / "rerun")]
    return shlex.join(words)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return out.stdout.strip() + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def launch(job: Job, args: argparse.Namespace) -> Tuple[subprocess.Popen, Path]:
    out = Path(args.out)
    key = run_key(job, args)
    spec = {"label": job.label, "flags": job.flags, "seed": job.seed, "set": job.set,
            "root": str(Path(job.root).resolve()), "outdir": str(out / "models" / key), "budget": args.budget,
            "points": list(args.points), "clock": args.clock, "threads": args.threads,
            "result": str(out / f"{key}.json"), "command": rerun_command(job, args), "commit": git_commit()}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TORCHINDUCTOR_COMPILE_THREADS="1")
    log = open(out / f"{key}.log", "w")
    proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, out / f"{key}.json"


def run_all(jobs: List[Job], args: argparse.Namespace) -> None:
    pending = [j for j in jobs if not (Path(args.out) / f"{run_key(j, args)}.json").is_file()]
    running: List[Tuple[subprocess.Popen, Job]] = []
    while pending or running:
        while pending and len(running) < args.parallel:
            job = pending.pop(0)
            print(f"training {job.label} (seed {job.seed}) on {job.set}: {job.flags}", flush=True)
            running.append((launch(job, args)[0], job))
        time.sleep(2)
        for proc, job in list(running):
            if proc.poll() is not None:
                running.remove((proc, job))
                what = f"{job.label} (seed {job.seed}) on {job.set}"
                if proc.returncode:
                    print(f"{what} failed: see {args.out}/{run_key(job, args)}.log", flush=True)
                else:
                    print(f"{what} done", flush=True)


def interpolate_time(points: Sequence[Dict[str, Any]], level: float) -> Optional[float]:
    """The first time the vocals SDR reaches ``level``, linear between points (None: never)."""
    prev_t, prev_v = 0.0, -math.inf
    for p in points:
        t, v = p["seconds"], p["vocals"]
        if v >= level:
            if not math.isfinite(prev_v):
                return t
            return prev_t + (t - prev_t) * (level - prev_v) / (v - prev_v)
        prev_t, prev_v = t, v
    return None


def auc(points: Sequence[Dict[str, Any]], budget: float) -> float:
    """Mean vocals SDR over the budget: the trapezoid area under the curve from the first point, over its span."""
    ts = [p["seconds"] for p in points]
    vs = [p["vocals"] for p in points]
    area = sum((ts[i + 1] - ts[i]) * (vs[i + 1] + vs[i]) / 2 for i in range(len(ts) - 1))
    return area / (ts[-1] - ts[0]) if len(ts) > 1 else vs[0]


def label_width(labels: Sequence[str], least: int = 14) -> int:
    """Width of a table's recipe column: ``least``, or the longest label and a space."""
    return max([least] + [len(label) + 1 for label in labels])


def report(results: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace, set_name: str = "") -> None:
    import numpy as np

    budget = args.budget
    labels = list(results)
    first = labels[0]
    reference = float(np.mean([r["points"][-1]["vocals"] for r in results[first]]))
    print(f"\nvocals SDR (dB) on held-out tracks, budget {budget:.0f} s ({args.clock} clock, {args.threads} thread(s));"
          f" 'reach' = time to {first}'s final {reference:.2f} dB")
    width = label_width(labels)
    header = (f"{'recipe':<{width}}{'seed':>5}" + "".join(f"{f'{100 * p:g}%':>7}" for p in args.points)
              + f"{'AUC':>7}{'acc100%':>8}{'reach':>7}{'s/step':>7}{'steps':>6}{'wait':>6}{'valid':>6}")
    print(header)
    for label in labels:
        rows = results[label]
        for r in rows + ([None] if len(rows) > 1 else []):
            if r is None:  # the mean over seeds
                pts = [{"seconds": p["seconds"], "vocals": float(np.mean([x["points"][i]["vocals"] for x in rows])),
                        "accompaniment": float(np.mean([x["points"][i]["accompaniment"] for x in rows])),
                        "step": float(np.mean([x["points"][i]["step"] for x in rows])),
                        "data_wait": float(np.mean([x["points"][i]["data_wait"] for x in rows])),
                        "valid_seconds": float(np.mean([x["points"][i]["valid_seconds"] for x in rows]))}
                       for i, p in enumerate(rows[0]["points"])]
                seed = "mean"
                sps = float(np.mean([x["seconds_per_step"] for x in rows]))
            else:
                pts, seed, sps = r["points"], str(r["seed"]), r["seconds_per_step"]
            reach = interpolate_time(pts, reference)
            last = pts[-1]
            print(f"{label:<{width}}{seed:>5}" + "".join(f"{p['vocals']:7.2f}" for p in pts)
                  + f"{auc(pts, budget):7.2f}{last['accompaniment']:8.2f}"
                  + (f"{reach:7.0f}" if reach is not None else f"{'-':>7}")
                  + f"{sps:7.2f}{last['step']:6.0f}{last['data_wait'] / budget:6.1%}{last['valid_seconds'] / budget:6.1%}")
    selection_table(results)
    print("\nAUC: mean vocals SDR over the points' span; wait / valid: shares of the budget "
          "spent waiting for batches / validating (in the budget's clock: CPU seconds with --clock cpu)")
    plot(results, args, set_name)


def selection_table(results: Dict[str, List[Dict[str, Any]]]) -> None:
    """Held-out vocals SDR of the last weights against those model selection by validation loss or SDR
    keeps (the epoch each chose), per run."""
    rows = [(label, r) for label, runs in results.items() for r in runs if r.get("selected")]
    if not rows:
        return
    print("\nmodel selection: held-out vocals SDR of the weights kept (epoch) against the last weights")
    width = label_width([label for label, _ in rows])
    print(f"{'recipe':<{width}}{'seed':>5}{'last':>8}{'by loss':>14}{'by SDR':>14}")
    for label, r in rows:
        cells = []
        for key in ("loss", "sdr"):
            sel = r["selected"].get(key)
            cells.append(f"{sel['vocals']:7.2f} ({sel['epoch']:>3})" if sel else f"{'-':>13}")
        print(f"{label:<{width}}{r['seed']:>5}{r['points'][-1]['vocals']:8.2f}" + "".join(f"{c:>14}" for c in cells))


def final_scores(rows: Sequence[Dict[str, Any]]) -> Dict[int, float]:
    """``{seed: vocals SDR at the end of the budget}`` of one recipe's runs."""
    return {int(r["seed"]): float(r["points"][-1]["vocals"]) for r in rows}


def verdict(reference: Dict[int, float], other: Dict[int, float]) -> Tuple[float, float, str]:
    """``(mean difference, spread, word)`` of ``other`` against ``reference`` (final vocals SDR per seed).

    The spread is the larger of the two recipes' ranges over seeds (max - min); the word is ``better``
    or ``worse`` when the mean difference is larger than that spread and every shared seed agrees
    in sign, ``within spread`` otherwise, and ``one seed`` (nothing decided) with fewer than two seeds
    of either recipe."""
    import numpy as np

    seeds = sorted(set(reference) & set(other))
    if not seeds:
        return math.nan, math.nan, "no shared seed"
    if min(len(reference), len(other)) < 2:
        return float(np.mean([other[s] - reference[s] for s in seeds])), math.nan, "one seed"
    diffs = [other[s] - reference[s] for s in seeds]
    spread = max(max(v.values()) - min(v.values()) for v in (reference, other))
    mean = float(np.mean(diffs))
    if abs(mean) > spread and (all(d > 0 for d in diffs) or all(d < 0 for d in diffs)):
        return mean, spread, "better" if mean > 0 else "worse"
    return mean, spread, "within spread"


def verdicts(results: Dict[str, Dict[str, List[Dict[str, Any]]]]) -> None:
    """For each recipe against the first: the mean final difference per set, the spread between seeds,
    and whether it wins or loses on every set, or wins on one and loses on another."""
    sets = list(results)
    first_set = results[sets[0]]
    labels = [label for label in first_set] + [lb for s in sets[1:] for lb in results[s] if lb not in first_set]
    reference = labels[0]
    print(f"\nverdicts against {reference} (final vocals SDR, mean difference over shared seeds; "
          "spread: the larger range over seeds of the two)")
    width = label_width(labels, least=16)
    print(f"{'recipe':<{width}}{'set':<12}{'difference':>11}{'spread':>8}{'seeds':>6}  verdict")
    for label in labels[1:]:
        words = []
        for name in sets:
            per_set = results[name]
            if reference not in per_set or label not in per_set:
                continue
            ref, other = final_scores(per_set[reference]), final_scores(per_set[label])
            mean, spread, word = verdict(ref, other)
            words.append((name, word))
            print(f"{label:<{width}}{name:<12}{mean:+8.2f} dB{spread:8.2f}{len(set(ref) & set(other)):6d}  {word}")
        decided = [(n, w) for n, w in words if w in ("better", "worse")]
        kinds = {w for _, w in decided}
        if len(decided) == len(words) == len(sets) and len(kinds) == 1:
            overall = f"{decided[0][1]} on every set" if len(sets) > 1 else f"{decided[0][1]} on {sets[0]} (one set)"
        elif kinds == {"better", "worse"}:
            overall = "mixed: " + ", ".join(f"{w} on {n}" for n, w in decided)
        elif decided:
            overall = f"{decided[0][1]} on {', '.join(n for n, _ in decided)} only; within the spread elsewhere"
        else:
            overall = "no difference larger than the spread between seeds"
        print(f"{label:<{width}}{'all':<12}{'':>25}  {overall}")


def plot(results: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace, set_name: str = "") -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    colors = [f"C{i}" for i in range(10)]
    for i, (label, rows) in enumerate(results.items()):
        for j, r in enumerate(rows):
            t = [p["seconds"] for p in r["points"]]
            s = [p["step"] for p in r["points"]]
            v = [p["vocals"] for p in r["points"]]
            style = dict(color=colors[i % 10], marker="o", linestyle="-" if j == 0 else "--",
                         label=f"{label} (seed {r['seed']})")
            axes[0].plot(t, v, **style)
            axes[1].plot(s, v, **style)
    axes[0].set_xlabel(f"training seconds ({args.clock} clock)")
    axes[1].set_xlabel("optimizer steps")
    for ax in axes:
        ax.set_ylabel("vocals SDR (dB), held-out tracks")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = Path(args.out) / f"time_to_quality-{set_name + '-' if set_name else ''}{args.clock}{int(args.budget)}s.png"
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main(argv: Optional[Sequence[str]] = None) -> None:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--worker":
        spec = json.loads(sys.argv[2])
        result = train_run(spec)
        tmp = Path(spec["result"] + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(spec["result"])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, nargs="+", metavar="[LABEL=]PATH",
                   help="data sets (musdb wav layout with train/ and test/), each labelled or named by its folder")
    p.add_argument("--recipes", nargs="+", default=["v1", "default"],
                   help="named recipes or LABEL=FLAGS; the first is the reference of 'reach' and of the verdicts")
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--budget", type=float, default=1200.0, help="seconds of training per run")
    p.add_argument("--points", type=float, nargs="+", default=list(DEFAULT_POINTS),
                   help="fractions of the budget at which weights are scored")
    p.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--parallel", type=int, default=1, help="runs at once")
    p.add_argument("--out", default="ttq-output", help="results, logs, models and plots")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: report the runs whose results are already in --out")
    args = p.parse_args(argv)
    sets = [parse_set(r) for r in args.root]
    for label, path in sets:
        if not (Path(path) / "test").is_dir():
            p.error(f"--root {path}: no test/ folder")
    if len({label for label, _ in sets}) < len(sets):
        p.error("--root: two data sets with the same label; name them LABEL=PATH")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    recipes = [parse_recipe(r) for r in args.recipes]
    # seeds outermost: with --parallel, the recipes of one seed run side by side, under the same load
    jobs = [Job(name, path, label, flags, seed) for name, path in sets for seed in args.seeds
            for label, flags in recipes]
    t0 = time.time()
    if not args.report_only:
        run_all(jobs, args)
    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for job in sorted(jobs, key=lambda j: ([s for s, _ in sets].index(j.set), [r for r, _ in recipes].index(j.label))):
        path = Path(args.out) / f"{run_key(job, args)}.json"
        if path.is_file():
            results.setdefault(job.set, {}).setdefault(job.label, []).append(json.loads(path.read_text()))
    if not results:
        sys.exit("no run finished")
    print(f"machine: {machine_line()}; runs took {time.time() - t0:.0f} s of wall time")
    for name, per_set in results.items():
        print(f"\n== data set {name}")
        report(per_set, args, name)
    verdicts(results)


def machine_line() -> str:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""SDR cost of the reduced-precision options against float32, with eval.py.

    python benchmarks/precision.py --model demo-output/model --root demo-output/data
    python benchmarks/precision.py --model M --root R --precision float32 int8 --niter 1 --cores 2

Runs ``eval.py MODEL --root ROOT --is-wav --subset test --precision P`` once
per precision (fresh estimates and museval scores in a temporary folder) and
prints, per target, the SDR (median over frames, then over tracks, as
results.csv has it), the mean whole-track SDR, and their change against
float32. The speed of each option is printed by
``benchmarks/separation.py --precision float32 bfloat16 int8``.
"""

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine


def scores(path: Path):
    with open(path) as f:
        return {row["target"]: (float(row["SDR"]), float(row["uSDR"]), int(row["tracks"]))
                for row in csv.DictReader(f)}


def main(a) -> None:
    print(f"machine: {machine()}")
    print(f"model: {a.model}; data: {a.root} ({a.subset}); niter {a.niter}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in a.precision:
            out = Path(tmp) / precision
            cmd = [sys.executable, str(ROOT / "eval.py"), a.model, "--root", a.root, "--is-wav", "--subset", a.subset,
                   "--outdir", str(out / "estimates"), "--evaldir", str(out / "eval"), "--niter", str(a.niter),
                   "--cores", str(a.cores), "--precision", precision, "--no-cuda", "--quiet", "--force"]
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"eval.py --precision {precision} failed ({r.returncode}): {r.stderr.strip()}")
            results[precision] = scores(out / "eval" / "results.csv")
            print(f"{precision}: eval.py took {time.perf_counter() - t:.1f} s", flush=True)
    base = results.get("float32")
    print(f"{'precision':>9} {'target':>14} {'SDR':>8} {'change':>8} {'global SDR':>10} {'change':>8} {'tracks':>6}")
    for precision, table in results.items():
        for target, (sdr, glob, tracks) in table.items():
            d_sdr = f"{sdr - base[target][0]:+8.3f}" if base and target in base else f"{'':>8}"
            d_glob = f"{glob - base[target][1]:+8.3f}" if base and target in base else f"{'':>8}"
            print(f"{precision:>9} {target:>14} {sdr:>8.3f} {d_sdr} {glob:>10.3f} {d_glob} {tracks:>6}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "demo-output" / "model"))
    p.add_argument("--root", default=str(ROOT / "demo-output" / "data"))
    p.add_argument("--subset", default="test", choices=("train", "test"))
    p.add_argument("--precision", nargs="+", default=["float32", "bfloat16", "int8"],
                   choices=["float32", "bfloat16", "int8"])
    p.add_argument("--niter", type=int, default=1)
    p.add_argument("--cores", type=int, default=2)
    a = p.parse_args()
    if a.niter < 0 or a.cores < 1:
        p.error("--niter must be >= 0 and --cores >= 1")
    if "float32" in a.precision:
        a.precision = ["float32"] + [x for x in a.precision if x != "float32"]
    main(a)

#!/usr/bin/env python
"""What test.py's separation path imports, and how long each package takes (python -X importtime).

    python benchmarks/importtime.py [--repeat 3] [--module openunmix.commands.separate]

Runs ``python -X importtime -c "import MODULE"`` in fresh processes (the
module test.py imports before it parses its arguments) and prints, for the
run with the smallest total, the total import time and the packages that
take longest: each package's own time summed over its modules (these add
up to the total), and the cumulative time of its first import (what it
costs including what it pulls in). Also checks that none of the libraries
the separation path must not load (matplotlib, musdb, museval, scipy, onnx,
...) was imported; tests/test_imports.py guards the same.
"""

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "musdb", "museval", "scipy", "onnx", "onnxruntime", "pandas", "sklearn")
ROW = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def run(module: str):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                       text=True, env=env, check=True)
    rows = []
    for line in r.stderr.splitlines():
        m = ROW.match(line)
        if m:
            rows.append((int(m.group(1)) / 1e6, int(m.group(2)) / 1e6, (len(m.group(3)) - 1) // 2, m.group(4)))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", default="openunmix.commands.separate")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args()
    runs = [run(a.module) for _ in range(a.repeat)]
    rows = min(runs, key=lambda rs: sum(r[0] for r in rs))
    total = sum(r[0] for r in rows)
    own = defaultdict(float)
    first = {}
    for self_t, cum, depth, name in rows:
        top = name.split(".")[0]
        own[top] += self_t
        # importtime prints a module after what it imported: the package's own first (outermost) import is
        # the row of the smallest depth
        if top not in first or depth < first[top][1] or (depth == first[top][1] and cum > first[top][0]):
            first[top] = (cum, depth)
    print(f"python -X importtime -c 'import {a.module}': {len(rows)} modules, {total:.3f} s "
          f"(best of {a.repeat}; totals of the runs: {', '.join(f'{sum(r[0] for r in rs):.3f}' for rs in runs)} s)")
    print(f"{'package':>24} {'own time':>9} {'share':>6} {'cumulative':>11}  (cumulative: its outermost import, "
          "with what that pulls in)")
    for name, t in sorted(own.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{name:>24} {t:>8.3f}s {t / total:>6.1%} {first[name][0]:>10.3f}s")
    loaded = sorted(set(HEAVY) & set(own))
    print("not imported: " + ", ".join(HEAVY) if not loaded else f"IMPORTED, should not be: {', '.join(loaded)}")

#!/usr/bin/env python
"""Speed of the whole-track metrics (uSDR, SI-SDR) against BSSEval v4 (museval) on a MUSDB-layout set.

    python benchmarks/metrics.py --root demo-output/data
    python benchmarks/metrics.py --root demo-output/data --estimates demo-output/estimates --repeats 3

Scores every track of the subset (by default the mixture as every target's
estimate, as eval.py's baseline does; with ``--estimates`` a model's
estimates folder, ``ESTIMATES/<subset>/<track>/<target>.wav``) twice with
:func:`openunmix.evaluation.score_track`: with ``bsseval`` alone and with
``usdr,sisdr``, and prints the seconds of each over the set and their ratio,
reading the references included (as eval.py pays it), and the metrics alone
on arrays already in memory. Speed is measured here, never in the tests;
run it on a quiet machine.
"""

import argparse

from common import best_time, machine

import numpy as np  # noqa: E402

from openunmix.evaluation import list_tracks, load_estimates, score_track  # noqa: E402
from openunmix.evaluation.tracks import estimates_folder  # noqa: E402
from openunmix.metrics import sisdr, usdr  # noqa: E402


def main(a) -> None:
    tracks = list_tracks(a.root, a.subset, is_wav=True)
    print(f"machine: {machine()}")
    sets = {}
    for track in tracks:
        if a.estimates:
            est = load_estimates(estimates_folder(a.estimates, track.subset, track.name), None, rate=float(track.rate))
        else:
            mixture = np.ascontiguousarray(track.audio.T)
            est = {t: mixture for t in a.targets}
        sets[track.name] = (track, est)
    seconds = sum(t.duration for t, _ in sets.values())
    names = sorted({t for _, est in sets.values() for t in est if t in ("vocals", "drums", "bass", "other",
                                                                       "accompaniment")})
    print(f"{len(sets)} tracks ({seconds:.0f} s of audio) of {a.root} ({a.subset}), targets {', '.join(names)}; "
          f"best of {a.repeats}")

    def score(metrics):
        return lambda: [score_track(track, est, metrics=metrics) for track, est in sets.values()]

    bss = best_time(score(("bsseval",)), a.repeats, warmup=False)
    whole = best_time(score(("usdr", "sisdr")), a.repeats, warmup=False)
    print(f"score_track, references read: bsseval {bss:8.3f} s   usdr+sisdr {whole:8.4f} s   ratio {bss / whole:8.1f}x")

    arrays = []
    for track, est in sets.values():
        for t in names:
            if t in est:
                ref = np.ascontiguousarray(track.targets[t].audio.T, dtype=np.float64)
                arrays.append((ref, np.asarray(est[t], dtype=np.float64)[:, : ref.shape[1]]))
    alone = best_time(lambda: [(usdr(r, e), sisdr(r, e)) for r, e in arrays], a.repeats, warmup=False)
    print(f"the metrics alone (arrays in memory): usdr+sisdr {alone:8.4f} s   ratio to bsseval {bss / alone:8.1f}x")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="a MUSDB-layout wav folder (make demo's demo-output/data)")
    p.add_argument("--subset", default="test")
    p.add_argument("--estimates", default=None, help="eval.py's --outdir (default: the mixture as every estimate)")
    p.add_argument("--targets", nargs="+", default=["vocals", "accompaniment"],
                   help="the targets the mixture is scored as, without --estimates (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=1)
    main(p.parse_args())

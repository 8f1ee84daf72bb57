"""``python -m openunmix.demo``: write the synthetic MUSDB18-layout dataset of ``make demo``."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from ..demo import VARIETIES, dataset_size, generate_dataset
from .argtypes import ArgumentParser, nonnegative_int, number, positive_float
from .common import error


def build_parser(prog: str = "python -m openunmix.demo") -> ArgumentParser:
    """The parser of ``python -m openunmix.demo``."""
    p = ArgumentParser(prog=prog, description="Write a small synthetic dataset in the MUSDB18 wav layout.")
    p.add_argument("--root", required=True, help="output folder")
    p.add_argument("--seed", type=nonnegative_int, default=42, help="random seed (default: 42)")
    p.add_argument("--nb-train", type=nonnegative_int, default=8, help="training tracks (default: 8)")
    p.add_argument(
        "--nb-valid", type=nonnegative_int, default=2, help="validation tracks, stored in train/ (default: 2)"
    )
    p.add_argument("--nb-test", type=nonnegative_int, default=2, help="test tracks (default: 2)")
    p.add_argument("--duration", type=positive_float, default=20.0, help="seconds per track (default: 20)")
    p.add_argument("--rate", type=number(int, 8000), default=44100, help="sample rate in Hz (default: 44100)")
    p.add_argument(
        "--variety", choices=VARIETIES, default="demo",
        help="demo: the tracks of 'make demo' (default); wide: more voices, instruments, tempi and levels, "
        "with test tracks in other keys and at other vocal levels than train/valid; kinds: test tracks of "
        "another kind (voices, instruments, tempi and a vocal hall that train/valid never have)",
    )
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and write the dataset; returns the exit status.

    Prints the root folder and a one-line summary on stdout; a folder that
    cannot be written is one ``error:`` line and status 1, a bad flag status 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if round(args.duration * args.rate) < 1:
        parser.error(f"argument --duration: {args.duration:g} s is shorter than one sample")
    try:
        root = generate_dataset(
            args.root,
            seed=args.seed,
            nb_train=args.nb_train,
            nb_valid=args.nb_valid,
            nb_test=args.nb_test,
            duration=args.duration,
            rate=args.rate,
            variety=args.variety,
        )
        size = dataset_size(root, args.nb_train, args.nb_valid, args.nb_test)
    except OSError as err:
        error(str(err))
        return 1
    n_tracks = args.nb_train + args.nb_valid + args.nb_test
    print(root)
    print(
        f"{n_tracks} tracks ({args.nb_train} train, {args.nb_valid} valid, {args.nb_test} test) "
        f"of {args.duration:g} s at {args.rate} Hz, {n_tracks * args.duration / 60:.1f} min of audio, "
        f"{size / 1e6:.1f} MB, seed {args.seed}, variety {args.variety}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

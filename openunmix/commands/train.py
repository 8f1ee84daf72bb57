"""``train.py``: train a model of any registered architecture on a dataset layout.

``--architecture`` takes the registered architectures
(:mod:`openunmix.architectures`, plug-ins included) and each architecture's
training options become flags of their own group; ``--dataset`` takes the
registered layouts (:func:`openunmix.data.dataset_names`). Every flag is
checked before any work starts: bad values and unknown names end with one
``error:`` line (exit status 2 for the command line, 1 for what the run finds,
130 for Ctrl-C), and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Sequence

from .. import architectures
from ..data import dataset_names, dataset_options
from ..data import layout_options as data_layout_options
from ..training import ONE_LINE_ERRORS, TrainConfig, TrainingInterrupted, train
from ..training.recipes import DEFAULT_RECIPE, RECIPES, recipe
from ..training.schedule import SCHEDULES
from ..training.validation import SELECT_BY
from .argtypes import (ArgumentParser, fraction, nonnegative_float, nonnegative_int, number, positive_float,
                       positive_int)
from .common import error

PROG = "train.py"


def _option_flags(parser: argparse.ArgumentParser, archs: Sequence[architectures.Architecture]) -> None:
    """One group of flags per architecture, from its declared training options."""
    seen: Dict[str, str] = {}
    for arch in archs:
        if not arch.options:
            continue
        group = parser.add_argument_group(arch.options_title or f"{arch.name} options")
        for opt in arch.options:
            flag = opt.flag_name
            if flag in seen:  # a flag declared by two architectures is one flag
                continue
            seen[flag] = opt.name
            dest = f"arch_{opt.name}"
            if opt.kind is bool:
                group.add_argument(flag, dest=dest, action="store_false" if opt.default else "store_true",
                                   default=None, help=opt.help)
            else:
                group.add_argument(flag, dest=dest, type=str if opt.kind is str else number(opt.kind, opt.low, opt.high),
                                   default=None, metavar=opt.name.upper(), help=opt.help)


def _architecture_options(p: argparse.ArgumentParser, args: argparse.Namespace,
                          archs: Sequence[architectures.Architecture],
                          arch: architectures.Architecture) -> Dict[str, Any]:
    """The chosen architecture's options that were given (the others take their defaults); a flag of
    another architecture's option is refused, naming the architecture."""
    own = {opt.name for opt in arch.options}
    for other in archs:
        for opt in other.options:
            if opt.name not in own and getattr(args, f"arch_{opt.name}", None) is not None:
                have = ", ".join(o.flag_name for o in arch.options) or "none"
                p.error(f"argument {opt.flag_name}: not an option of --architecture {arch.name} (its options: {have})")
    given = {}
    for opt in arch.options:
        value = getattr(args, f"arch_{opt.name}", None)
        if value is not None:
            given[opt.name] = value
    return given


def _dataset_flags(parser: argparse.ArgumentParser) -> None:
    """The "dataset options" group: a flag for each option with one that the registered layouts declare
    (:func:`openunmix.data.dataset_options`); its help names the layouts that take it. The flag's value is
    ``args.<option name>``; left out, the declared default (None: the layout's own)."""
    uses = dataset_options()
    everyone = set(dataset_names())
    d = parser.add_argument_group("dataset options")
    for opt, layouts in uses:
        if opt.flag is None:
            continue
        who = "every layout" if len(everyone) > 1 and set(layouts) == everyone else ", ".join(layouts)
        more: Dict[str, Any] = {"dest": opt.name, "default": opt.default, "help": f"{who}: {opt.help}"}
        if opt.kind is bool:
            more["action"] = "store_true" if opt.switch else argparse.BooleanOptionalAction
        else:
            more.update(type=None if opt.kind is str else opt.kind, nargs=opt.nargs, choices=opt.choices,
                        metavar=opt.metavar)
        d.add_argument(opt.flag, **more)


def _dataset_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> Dict[str, Any]:
    """The dataset options given on the command line (or by a recipe), by name; those left at None are left out.

    Each value is checked (its option's ``check``); a strict option given for a layout that does not take it
    is refused. ``remix_prob`` is filled in for the layouts that take it (1 with ``random_track_mix``, else
    0), so that the run's json says which was used."""
    given = {}
    for opt, layouts in dataset_options():
        value = getattr(args, opt.name, None) if opt.flag is not None else None
        if value is None:
            continue
        if opt.strict and args.dataset not in layouts:
            p.error(f"argument {opt.flag}: not an option of --dataset {args.dataset} (the layouts that take it: "
                    f"{', '.join(layouts)})")
        if opt.check is not None:
            try:
                opt.check(value)
            except ValueError as err:
                p.error(f"argument {opt.flag}: {err}")
        given[opt.name] = value
    if "remix_prob" in data_layout_options(args.dataset):
        mix = bool(given.get("random_track_mix"))
        if mix and given.get("remix_prob", 1.0) != 1.0:
            p.error(f"argument --remix-prob: --random-track-mix means --remix-prob 1, not {given['remix_prob']:g}; "
                    f"give one of them")
        given.setdefault("remix_prob", 1.0 if mix else 0.0)
    return given


def build_parser(archs: Optional[Sequence[architectures.Architecture]] = None,
                 datasets: Optional[List[str]] = None) -> ArgumentParser:
    """The parser of ``train.py`` (architectures and layouts default to the registered ones)."""
    archs = list(archs) if archs is not None else architectures.all_architectures()
    datasets = list(datasets) if datasets is not None else dataset_names()
    default = architectures.default()
    p = ArgumentParser(prog=PROG, description="Open-Unmix training")
    p.add_argument("--dataset", choices=datasets, default="musdb", help="dataset layout (default: %(default)s)")
    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--target", default="vocals", help="target source (default: %(default)s; an architecture that trains several targets "
                                                          "at once says so in its options)")
    p.add_argument("--architecture", choices=[a.name for a in archs], default=default.name,
                   help="; ".join(f"{a.name}: {a.description}" for a in archs) + " (default: %(default)s)")
    p.add_argument("--output", default="open-unmix", help="output folder for the model files (default: %(default)s)")
    p.add_argument("--model", default=None, metavar="DIR", help="fine-tune the <target> model of this model folder")
    others = [f"{a.name}: DIR/{a.file_stem}.chkpnt" for a in archs if a.file_stem != default.file_stem]
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help=f"resume from DIR/{default.file_stem}.chkpnt" + (f" ({'; '.join(others)})" if others else ""))
    _option_flags(p, archs)

    t = p.add_argument_group("training (defaults: the recipe's)")
    t.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE,
                   help="the settings of this group start from a named recipe; flags given win (default: "
                        "%(default)s; 'upstream': upstream open-unmix 1.3.0's, 'v1': this program's before 2026-12)")
    t.add_argument("--epochs", type=positive_int, default=1000)
    t.add_argument("--patience", type=positive_int, help="early stopping: validations without improvement")
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=positive_int,
                   help="global batch size (split over torchrun processes)")
    t.add_argument("--lr", type=positive_float)
    t.add_argument("--lr-schedule", choices=SCHEDULES,
                   help="plateau: decay on validation plateaus; cosine / onecycle: over --lr-horizon steps")
    t.add_argument("--warmup-steps", type=nonnegative_int, help="steps of linear learning-rate warm-up")
    t.add_argument("--lr-horizon", type=positive_int, default=None, metavar="STEPS",
                   help="steps of cosine / one-cycle decay (default: all steps of --epochs epochs)")
    t.add_argument("--lr-decay-patience", type=positive_int, help="plateau: validations without improvement before the lr decays")
    t.add_argument("--lr-decay-gamma", type=fraction, help="plateau: lr decay factor")
    t.add_argument("--weight-decay", type=nonnegative_float)
    t.add_argument("--seed", type=nonnegative_int, default=1)
    t.add_argument("--seq-dur", type=positive_float, help="seconds per training excerpt")
    t.add_argument("--samples-per-track", type=positive_int, help="excerpts per track and epoch")
    t.add_argument("--valid-every", type=positive_int, help="validate every N epochs (and after the last)")
    t.add_argument("--valid-chunk-dur", type=positive_float, default=30.0,
                   help="validation tracks are processed in chunks of this many seconds")
    t.add_argument("--nb-workers", type=nonnegative_int, default=0, help="data loader worker processes")
    t.add_argument("--no-cuda", action="store_true")
    t.add_argument("--amp", action="store_true",
                   help="mixed precision: bf16 autocast on GPUs that have it (else fp16) and on CPUs with bf16 units")
    t.add_argument("--compile", action="store_true", help="torch.compile the model's training forward pass")
    t.add_argument("--ema", type=fraction, metavar="DECAY",
                   help="validate and save an exponential moving average of the weights, updated after every step "
                        "with this decay (e.g. 0.999; default: off)")
    t.add_argument("--clip-grad", type=positive_float, metavar="NORM",
                   help="clip the gradients' total L2 norm to NORM before each step (default: off)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    w = p.add_argument_group("watching a run")
    w.add_argument("--select-by", choices=SELECT_BY, default="loss",
                   help="what the best model and early stopping follow: the validation loss, or the mean over "
                        "targets of the validation SDR (uSDR of the whole validation tracks) (default: %(default)s)")
    w.add_argument("--no-valid-sdr", dest="valid_sdr", action="store_false",
                   help="validate by the loss only: do not separate the validation tracks to score their SDR")
    w.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                   help="write no TensorBoard event files (OUTPUT/tensorboard/<stem>/)")
    w.add_argument("--tensorboard-audio-every", type=nonnegative_int, default=5, metavar="N",
                   help="every N validations, a validation excerpt's estimates as audio and spectrograms in "
                        "TensorBoard (0: never; default: %(default)s)")

    m = p.add_argument_group("audio (every architecture)")
    m.add_argument("--nb-channels", type=number(int, 1, 2), default=2, help="1 for mono models, 2 for stereo")
    m.add_argument("--sample-rate", type=number(float, 1000, 768000), default=44100.0, help="audio at other rates is resampled")

    _dataset_flags(p)
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
    """The command line as a :class:`TrainConfig` (one ``error:`` line and exit status 2 on bad flags)."""
    try:
        archs = architectures.all_architectures()
    except architectures.ArchitectureError as err:  # a plug-in that does not load
        error(str(err))
        sys.exit(2)
    p = build_parser(archs)
    known, _ = p.parse_known_args(argv)  # the recipe first: it sets the other flags' defaults
    settings = recipe(known.recipe)
    options = settings.pop("options", {})  # the architecture's options a recipe names: its flags' defaults
    p.set_defaults(**settings, **{f"arch_{name}": value for name, value in options.items()})
    a = p.parse_args(argv)
    # each flag's own range is checked by its type; what depends on several options, by the architecture
    arch = architectures.get(a.architecture)
    arch_options = _architecture_options(p, a, archs, arch)
    try:
        arch.check_options(arch_options)
    except architectures.ArchitectureError as err:
        p.error(str(err))
    if a.select_by == "sdr" and not a.valid_sdr:
        p.error("argument --select-by: sdr needs the validation SDR (drop --no-valid-sdr)")
    return TrainConfig(
        root=a.root, output=a.output, dataset=a.dataset, target=a.target, epochs=a.epochs,
        patience=a.patience, batch_size=a.batch_size, seq_dur=a.seq_dur, lr=a.lr,
        weight_decay=a.weight_decay, lr_decay_patience=a.lr_decay_patience,
        lr_decay_gamma=a.lr_decay_gamma, lr_schedule=a.lr_schedule, warmup_steps=a.warmup_steps,
        lr_horizon=a.lr_horizon, valid_every=a.valid_every, compile=a.compile, recipe=a.recipe, seed=a.seed,
        nb_channels=a.nb_channels, sample_rate=a.sample_rate, samples_per_track=a.samples_per_track, nb_workers=a.nb_workers,
        valid_chunk_dur=a.valid_chunk_dur, checkpoint=a.checkpoint, model=a.model,
        no_cuda=a.no_cuda, amp=a.amp, quiet=a.quiet, valid_sdr=a.valid_sdr, select_by=a.select_by,
        tensorboard=a.tensorboard, tensorboard_audio_every=a.tensorboard_audio_every, ema=a.ema, clip_grad=a.clip_grad,
        dataset_options=_dataset_options(p, a),
        architecture=a.architecture, architecture_options=arch_options,
    )


def run_training(cfg: TrainConfig) -> int:
    """Train; returns the exit status: 0 done, 1 the run could not start or go on, 130 interrupted."""
    try:
        return train(cfg)
    except TrainingInterrupted as err:
        if err.report:
            print(f"\n{err.message}", file=sys.stderr, flush=True)
        return 130
    except ONE_LINE_ERRORS as err:
        error(str(err))
        return 1


def train_command(argv: Optional[Sequence[str]] = None) -> int:
    """``train.py``: parse the command line and train; returns the exit status."""
    return run_training(parse_args(argv))

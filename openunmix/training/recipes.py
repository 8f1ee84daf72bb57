"""Named training recipes: the settings a run starts from before its own flags.

``train.py --recipe NAME`` takes every setting below from the recipe; flags
given on the command line still win. ``default`` is what ``train.py`` runs
without ``--recipe``; ``v1`` is the default recipe before it was chosen for
time to quality (kept so that older runs can be repeated); ``upstream`` is
the recipe of upstream open-unmix 1.3.0's ``train.py`` (its defaults), with
which the published models' scores are reproduced; ``roformer-small`` trains
a small BS-RoFormer (a recipe may also name the architecture and its
options, which flags given on the command line still override).

See ``docs/training.md`` and ``benchmarks/time_to_quality.py`` for how the
default was chosen.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

# TrainConfig fields a recipe sets; "random_track_mix" goes into the dataset options
RECIPE_FIELDS: Tuple[str, ...] = (
    "batch_size", "seq_dur", "lr", "lr_schedule", "warmup_steps", "weight_decay", "patience",
    "lr_decay_patience", "lr_decay_gamma", "samples_per_track", "valid_every", "random_track_mix", "ema", "clip_grad",
)

_V1: Dict[str, Any] = {
    "batch_size": 16, "seq_dur": 5.0, "lr": 1e-3, "lr_schedule": "plateau", "warmup_steps": 0,
    "weight_decay": 1e-5, "patience": 20, "lr_decay_patience": 80, "lr_decay_gamma": 0.3,
    "samples_per_track": 64, "valid_every": 1, "random_track_mix": False, "ema": None, "clip_grad": None,
}

RECIPES: Dict[str, Dict[str, Any]] = {
    # v1 with half the batch: on a 2-core CPU it reached v1's 1200 s score in 55 % of the time and ended higher,
    # on two seeds (docs/training.md#recipes-and-time-to-quality)
    "default": dict(_V1, batch_size=8),
    "v1": dict(_V1),
    "upstream": dict(_V1, seq_dur=6.0, patience=140),
    # a small BS-RoFormer: at 600 s of one CPU core it ended 1.1 dB above the default Open-Unmix recipe on the wide
    # set's held-out tracks, on both of two seeds (docs/performance.md#roformers-against-open-unmix-at-the-same-budget);
    # on music of another kind (the kinds set) it peaks by 300 s and ends level with the default at 1200 s
    # (docs/training.md, "Against the goal: a higher learning rate, and the small RoFormer")
    "roformer-small": dict(_V1, batch_size=4, seq_dur=3.0, lr=5e-4, architecture="bs_roformer",
                           options={"dim": 64, "depth": 2, "heads": 4, "dim_head": 16, "attn_dropout": 0.0,
                                    "ff_dropout": 0.0}),
}

DEFAULT_RECIPE = "default"


def recipe(name: str) -> Dict[str, Any]:
    """The settings of recipe ``name`` (a copy).

    Raises:
        KeyError: no such recipe (the message lists the recipes).
    """
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; recipes: {', '.join(RECIPES)}")
    return dict(RECIPES[name])

"""Shared by the training tests (tests/training/, tests/programs/test_train.py): the run's history file."""

import json

# conftest's musdb_root (2 training tracks) x 4 excerpts / batch 4 (conftest.TINY_TRAIN): two optimizer steps
# per epoch
STEPS_PER_EPOCH = 2


def history(out, target="vocals"):
    """The ``<target>.json`` that train.py writes into its output folder."""
    return json.loads((out / f"{target}.json").read_text())

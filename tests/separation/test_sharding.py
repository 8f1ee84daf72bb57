"""openunmix.separation.sharding: --shard K/N and SLURM job arrays, the balanced split of a catalogue."""

import numpy as np
import pytest

from openunmix.separation.sharding import Shard, balanced_split, share_of


def test_shard_spec_slurm_and_balanced_split():
    assert Shard.parse("2/4") == Shard(1, 4) and str(Shard(1, 4)) == "2/4"
    for bad in ("0/2", "3/2", "2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="K/N"):
            Shard.parse(bad)
    assert Shard.from_environment({}) is None
    assert Shard.from_environment({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "10"}) == Shard(0, 10)
    assert Shard.from_environment({"SLURM_ARRAY_TASK_ID": "10", "SLURM_ARRAY_TASK_COUNT": "10",
                                   "SLURM_ARRAY_TASK_MIN": "1"}) == Shard(9, 10)
    assert Shard.from_environment({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3",
                                   "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2"}) == Shard(2, 3)
    with pytest.raises(ValueError, match="--shard"):
        Shard.from_environment({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3"})
    assert Shard(1, 2).within(1, 3) == Shard(4, 6)
    rng = np.random.default_rng(0)
    weights = list(rng.uniform(10, 600, 101)) + [0.0, 0.0]  # two unreadable inputs weigh nothing
    for count in (1, 2, 3, 8):
        shares = balanced_split(weights, count)
        assert sorted(i for s in shares for i in s) == list(range(len(weights)))  # each input exactly once
        assert shares == balanced_split(list(weights), count)  # the same in every process
        loads = [sum(weights[i] for i in s) for s in shares]
        assert max(loads) - min(loads) <= max(weights)  # longest first: within one input of each other
        assert [share_of(weights, Shard(k, count)) for k in range(count)] == shares


def _array(**variables):
    return Shard.from_environment({f"SLURM_ARRAY_TASK_{k}": str(v) for k, v in variables.items()})


@pytest.mark.parametrize("variables, share", [
    # every variable SLURM sets: --array=1-10, --array=0-15:4 (tasks 0, 4, 8, 12)
    (dict(ID=1, COUNT=10, MIN=1, MAX=10, STEP=1), Shard(0, 10)),
    (dict(ID=8, COUNT=4, MIN=0, MAX=12, STEP=4), Shard(2, 4)),
    # older SLURM versions: no COUNT, the array is MIN..MAX (in steps of STEP)
    (dict(ID=5, MIN=1, MAX=10), Shard(4, 10)),
    (dict(ID=7, MIN=1, MAX=10, STEP=3), Shard(2, 4)),
    (dict(ID=12, MIN=0, MAX=12, STEP=4), Shard(3, 4)),
    # no STEP: from MIN, MAX and COUNT
    (dict(ID=6, COUNT=3, MIN=2, MAX=10), Shard(1, 3)),
    # no MIN: from MAX, COUNT (and STEP)
    (dict(ID=10, COUNT=10, MAX=10), Shard(9, 10)),
    (dict(ID=7, COUNT=3, MAX=9, STEP=2), Shard(1, 3)),  # tasks 5, 7, 9
    # by hand (the docs' example): COUNT alone counts from 0
    (dict(ID=3, COUNT=10), Shard(3, 10)),
    # an array of one task
    (dict(ID=4, COUNT=1, MIN=4, MAX=4), Shard(0, 1)),
])
def test_every_combination_of_array_variables_gives_the_share(variables, share):
    assert _array(**variables) == share


@pytest.mark.parametrize("variables, why", [
    (dict(ID=3), "nor SLURM_ARRAY_TASK_MAX"),  # the ID alone: every task would do the whole list
    (dict(ID=3, MIN=1), "nor SLURM_ARRAY_TASK_MAX"),
    (dict(ID=3, STEP=2), "nor SLURM_ARRAY_TASK_MAX"),
    (dict(ID=3, MAX=9), "MAX without"),
    (dict(ID=8, COUNT=3, MIN=1, MAX=8), "not evenly spaced"),  # --array=1,2,8
    (dict(ID=3, COUNT=3, MIN=1, MAX=7, STEP=1), "do not end at 7"),
    (dict(ID=4, MIN=1, MAX=8, STEP=2), "whole number of steps"),
    (dict(ID=4, COUNT=3, MIN=0, STEP=3), "not one of the 3 tasks"),
    (dict(ID=11, COUNT=10, MIN=1, MAX=10), "not one of the 10 tasks"),
    (dict(ID=2, COUNT=0), "count is below 1"),
    (dict(ID=2, COUNT=4, STEP=0), "step is below 1"),
    (dict(ID="x", COUNT=4), "SLURM_ARRAY_TASK_ID is not an integer"),
    (dict(ID=2, COUNT=4, MIN="one"), "SLURM_ARRAY_TASK_MIN is not an integer"),
])
def test_array_variables_that_do_not_determine_a_share_are_refused_naming_them(variables, why):
    with pytest.raises(ValueError) as caught:
        _array(**variables)
    message = str(caught.value)
    assert why in message and message.endswith("give it with --shard K/N") and "\n" not in message
    for name, value in variables.items():  # every variable seen, with its value
        assert f"SLURM_ARRAY_TASK_{name}={value}" in message

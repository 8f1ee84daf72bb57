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

#!/usr/bin/env python
"""Train an Open-Unmix target model (or a model of another registered architecture).

Example (MUSDB18 decoded to wav):
    python train.py --dataset musdb --root MUSDB_ROOT --is-wav --target vocals --output models/umx
Several processes (GPUs or CPU cores):
    torchrun --nproc_per_node 2 train.py --dataset musdb --root MUSDB_ROOT --is-wav ...
"""

import sys

from openunmix.commands.runtime import tune_allocator

tune_allocator()  # before torch is imported


from openunmix.commands.train import train_command


def main(argv=None) -> int:
    return train_command(argv)


if __name__ == "__main__":
    sys.exit(main())

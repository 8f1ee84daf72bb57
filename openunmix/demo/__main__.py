"""``python -m openunmix.demo``: the command lives in :mod:`openunmix.commands.demo`."""

import sys

from ..commands.demo import main

sys.exit(main())

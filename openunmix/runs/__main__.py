"""``python -m openunmix.runs``: the command lives in :mod:`openunmix.commands.runs`."""

import sys

from ..commands.runs import main

sys.exit(main())

"""``python -m openunmix.compare``: the command lives in :mod:`openunmix.commands.compare`."""

import sys

from ..commands.compare import main

sys.exit(main())

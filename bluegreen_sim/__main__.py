"""``python -m bluegreen_sim``: the ``bluegreen-sim`` command."""

import sys

from .cli import main

sys.exit(main())

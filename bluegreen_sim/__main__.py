"""``python -m bluegreen_sim``: the ``bluegreen-sim`` command."""

import sys

from .cli.main import main

sys.exit(main())

"""The ``bluegreen-sim`` command line: one module per family of subcommands.

``main`` builds the parser and maps errors to exit statuses (0 ok, 2 bad input, 1 internal);
``run`` runs and validates one scenario; ``lessons`` lists the bundled ones; ``many`` compares
and sweeps. The CLI uses everything else; nothing imports it.
"""

from .common import use_color
from .main import build_parser, main
from .many import parse_variant

__all__ = ["build_parser", "main", "parse_variant", "use_color"]

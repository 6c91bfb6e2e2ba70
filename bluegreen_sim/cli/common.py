"""What every command shares: the program name, the two error kinds, colour, argument types."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

PROG = "bluegreen-sim"
SCENARIO_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
ENV_SCENARIOS = "BLUEGREEN_SCENARIOS"


class UsageError(Exception):
    """A command line that cannot be acted on (exit status 2)."""


class InternalError(Exception):
    """Something this installation cannot do, said in one line (exit status 1)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"a seed is a whole number >= 0 (numpy's SeedSequence), got {value}"
        )
    return value


def warn(message: str) -> None:
    """One warning line on stderr, as errors are told."""
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def version() -> str:
    """The installed distribution's version, or the package's when run from a checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from .. import __version__

    try:
        return dist_version("bluegreen-sim")
    except PackageNotFoundError:
        return __version__


def use_color(no_color: bool = False, stream: Any = None) -> bool:
    """ANSI colours only on a terminal, and never with ``--no-color`` or ``NO_COLOR`` set."""
    stream = sys.stdout if stream is None else stream
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

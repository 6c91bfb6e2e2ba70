"""The ``bluegreen-sim`` command: run, validate, list, compare and sweep scenarios; the schema.

::

    bluegreen-sim run scenarios/canary-bad-green.yaml --seed 1 --out out/ --plot
    bluegreen-sim validate my-scenario.yaml --set green.error_rate=0.05
    bluegreen-sim scenarios
    bluegreen-sim compare scenarios/canary-bad-green.yaml --variant slow='deployment.config=...'
    bluegreen-sim sweep sweeps/error-rates.yaml --backend processes --workers 4
    bluegreen-sim schema > scenario.schema.json
    bluegreen-sim --version

Exit status: 0 on success, 2 on a bad scenario or a usage error, 1 on an internal error. Every
error is one line on stderr (``bluegreen-sim: error: <file>: <field>: <what was expected>``);
``--debug`` adds the traceback. Output files are written only once the run has succeeded, and a
failed run removes what it created, so an output folder never holds a half-written result.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..scenario import ScenarioError
from ..scenario.contradictions import ScenarioWarning
from .common import (
    ENV_SCENARIOS,
    PROG,
    InternalError,
    UsageError,
    _positive_int,
    _seed,
    version,
    warn,
)
from .lessons import cmd_scenarios
from .many import cmd_compare, cmd_sweep
from .run import cmd_run, cmd_validate
from .schema import add_parser as add_schema_parser


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (it prints the usage first by default)."""

    def error(self, message: str) -> NoReturn:
        sub = self.prog[len(PROG) :].strip()
        hint = f"{PROG} {sub} --help" if sub else f"{PROG} --help"
        self.exit(2, f"{PROG}: error: {message} (see '{hint}')\n")


# --------------------------------------------------------------------------------------------
# The command line


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bluegreen-sim`` (all subcommands)."""
    parser = _Parser(
        prog=PROG,
        description="Simulate blue/green and progressive deployments on AWS "
        "(ALB + ECS Fargate, CodeDeploy / ECS controllers, CloudWatch alarms).",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    # On the subcommands too; SUPPRESS keeps a subcommand from resetting the top-level flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    overrides = argparse.ArgumentParser(add_help=False)
    overrides.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field with a dotted path, e.g. green.error_rate=0.05 (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        parents=[common, overrides],
        help="run a scenario and tell what happened",
        description="Run one scenario: print the narrated event log and a summary table.",
    )
    run.add_argument("scenario", help="scenario file (.yaml, .toml or .json)")
    run.add_argument(
        "--seed", type=_seed, default=None, help="random seed, >= 0 (default: the file's, else 0)"
    )
    run.add_argument("--out", type=Path, metavar="DIR", help="write the results into DIR")
    run.add_argument(
        "--plot",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="draw the timeline (PNG, or SVG if PATH ends in .svg); default "
        "DIR/timeline.png with --out, else <scenario-name>.png",
    )
    run.add_argument(
        "--plot-full",
        action="store_true",
        help="draw the whole run (default: up to shortly after the deployment ends)",
    )
    run.add_argument(
        "--record-requests", action="store_true", help="keep one row per request (with --out)"
    )
    run.add_argument(
        "--requests-format",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the requests (default parquet; csv when pyarrow is missing)",
    )
    shown = run.add_mutually_exclusive_group()
    shown.add_argument("--quiet", "-q", action="store_true", help="print the summary table only")
    shown.add_argument("--json", action="store_true", help="print the summary as JSON only")
    run.add_argument("--no-color", action="store_true", help="no ANSI colours")
    run.set_defaults(handler=cmd_run)

    val = sub.add_parser(
        "validate",
        parents=[common, overrides],
        help="check a scenario file without running it",
        description="Check a scenario file: exit status 0 if it is valid, 2 if not.",
    )
    val.add_argument("scenario", help="scenario file (.yaml, .toml or .json)")
    val.set_defaults(handler=cmd_validate)

    lst = sub.add_parser(
        "scenarios",
        parents=[common],
        help="list the bundled scenarios",
        description=f"List the scenario files of a folder (default: the bundled scenarios/, "
        f"or the folders in ${ENV_SCENARIOS}).",
    )
    lst.add_argument("--dir", type=Path, metavar="DIR", help="list the scenarios in DIR")
    lst.set_defaults(handler=cmd_scenarios)

    cmp_ = sub.add_parser(
        "compare",
        parents=[common, overrides],
        help="compare variants of a scenario over several seeds",
        description="Run variants of one scenario with the same seeds (common random numbers) "
        "and print a table of risk, detection time, duration and cost.",
    )
    cmp_.add_argument("scenario", help="scenario file (.yaml, .toml or .json)")
    cmp_.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME='K=V[;K=V...]'",
        help="a named set of overrides, e.g. slow='deployment.config=CodeDeployDefault."
        "ECSLinear10PercentEvery3Minutes' (repeatable; NAME= alone is the scenario as it is)",
    )
    cmp_.add_argument(
        "--no-baseline",
        action="store_true",
        help="leave out the 'baseline' column (the scenario as it is), which is shown first "
        "unless a variant is already the scenario as it is",
    )
    cmp_.add_argument("--seeds", type=_positive_int, default=5, metavar="N", help="seeds 0..N-1")
    cmp_.add_argument("--out", type=Path, metavar="FILE", help="write the table (.csv/.parquet)")
    cmp_.add_argument("--plot", type=Path, metavar="PATH", help="draw the comparison")
    cmp_.set_defaults(handler=cmd_compare)

    swp = sub.add_parser(
        "sweep",
        parents=[common],
        help="run a grid of scenarios x seeds from a sweep file",
        description="Run a sweep file (a base scenario, a grid of overrides, seeds) on local "
        "cores or a Dask cluster; one row per run.",
    )
    swp.add_argument("sweep_file", help="sweep file (.yaml, .toml or .json)")
    swp.add_argument(
        "--backend",
        choices=("serial", "processes", "dask"),
        default=None,
        help="where the runs go (default: the sweep file's, else serial)",
    )
    swp.add_argument("--workers", type=_positive_int, default=None, metavar="N")
    swp.add_argument("--address", default=None, metavar="ADDR", help="Dask scheduler address")
    swp.add_argument("--out", type=Path, default=None, metavar="PATH", help="write the rows")
    swp.add_argument("--no-progress", action="store_true", help="no progress bar")
    swp.set_defaults(handler=cmd_sweep)
    add_schema_parser(sub, common)
    # import / export: the user's AWS definitions (bluegreen_sim/interop/; cfn-lint and hcl2
    # are imported only when a command needs them)
    from ..interop.cli import add_export_parser, add_import_parser

    add_import_parser(sub, [common])
    add_export_parser(sub, [common])
    # advise: detection analysis and a recommended setup
    from .advise import add_advise_parser

    add_advise_parser(sub, parents=[common])
    # calibrate: the workload from ALB access logs and CloudWatch exports (interop/logs/)
    from ..interop.logs.cli import add_calibrate_parser

    add_calibrate_parser(sub, parents=[common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: the arguments (without the program name); ``None`` reads ``sys.argv``.
    """
    _tolerate_narrow_terminals()
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    debug = bool(getattr(args, "debug", False))
    with warnings.catch_warnings():
        # A setting an override made meaningless is told in one line, like an error.
        warnings.simplefilter("always", ScenarioWarning)
        warnings.showwarning = _show_warning
        return _handle(args, debug)


def _show_warning(message, category, *_args, **_kwargs) -> None:
    if issubclass(category, ScenarioWarning):
        warn(str(message))
    else:
        print(f"{PROG}: warning: {category.__name__}: {message}", file=sys.stderr)


def _handle(args: argparse.Namespace, debug: bool) -> int:
    try:
        return int(args.handler(args) or 0)
    except ScenarioError as exc:
        return _fail(exc, 2, debug)
    except UsageError as exc:
        return _fail(exc, 2, debug)
    except InternalError as exc:
        return _fail(exc, 1, debug)
    except KeyboardInterrupt as exc:
        if not getattr(exc, "already_told", False):  # a sweep has said what it saved
            print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): not an error of ours. Silence the final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        what = f"internal error: {type(exc).__name__}: {exc}"
        if not debug:
            what += " (run with --debug for the traceback)"
        return _fail(what, 1, debug)


def _fail(error: Exception | str, status: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    text = " ".join(str(error).split())  # one line, whatever the message held
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return status


def _tolerate_narrow_terminals() -> None:
    # The log uses a few non-ASCII signs (→, ×, –); a terminal that cannot show them gets "?".
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="replace")

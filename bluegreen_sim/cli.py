"""The ``bluegreen-sim`` command: run, validate, list, compare and sweep scenarios.

::

    bluegreen-sim run scenarios/canary-bad-green.yaml --seed 1 --out out/ --plot
    bluegreen-sim validate my-scenario.yaml --set green.error_rate=0.05
    bluegreen-sim scenarios
    bluegreen-sim compare scenarios/canary-bad-green.yaml --variant slow='deployment.config=...'
    bluegreen-sim sweep sweeps/error-rates.yaml --backend processes --workers 4

Exit status: 0 on success, 2 on a bad scenario or a usage error, 1 on an internal error. Every
error is one line on stderr (``bluegreen-sim: error: <file>: <field>: <what was expected>``);
``--debug`` adds the traceback. Output files are written only once the run has succeeded, and a
failed run removes what it created, so an output folder never holds a half-written result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .narrate import first_line, format_duration, narrate, summary_table
from .scenario import ScenarioError, load_scenario

PROG = "bluegreen-sim"
SCENARIO_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
ENV_SCENARIOS = "BLUEGREEN_SCENARIOS"


class UsageError(Exception):
    """A command line that cannot be acted on (exit status 2)."""


class InternalError(Exception):
    """Something this installation cannot do, said in one line (exit status 1)."""


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
    run.add_argument("--seed", type=int, default=None, help="random seed (default: the file's)")
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
        required=True,
        metavar="NAME='K=V[;K=V...]'",
        help="a named set of overrides, e.g. slow='deployment.config=CodeDeployDefault."
        "ECSLinear10PercentEvery3Minutes' (repeatable; NAME= alone is the scenario as it is)",
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

    # calibrate (issue 12): its parser and handler live with the rest of calibration
    from .interop.logs.cli import add_calibrate_parser

    add_calibrate_parser(sub, parents=[common])
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


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
    try:
        return int(args.handler(args) or 0)
    except ScenarioError as exc:
        return _fail(exc, 2, debug)
    except UsageError as exc:
        return _fail(exc, 2, debug)
    except InternalError as exc:
        return _fail(exc, 1, debug)
    except KeyboardInterrupt:
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


def use_color(no_color: bool = False, stream: Any = None) -> bool:
    """ANSI colours only on a terminal, and never with ``--no-color`` or ``NO_COLOR`` set."""
    stream = sys.stdout if stream is None else stream
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# run


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: validate, simulate, then write the outputs and tell the story."""
    from .controllers import CONTROLLERS
    from .simulation import simulate

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} exists and is not a directory")
    plot_path = _plot_path(args, scenario.name)
    if plot_path is not None:
        _require_plotting()
    controller = scenario.deployment.controller
    if controller not in CONTROLLERS:
        raise InternalError(
            f"{args.scenario}: deployment.controller: '{controller}' is not available in this "
            "installation"
        )
    result = simulate(scenario, seed=args.seed, record_requests=args.record_requests)
    written = _write_outputs(result, args.out, plot_path, args.requests_format)

    out = sys.stdout
    if args.json:
        out.write(summary_json(result.summary) + "\n")
        return 0
    color = use_color(args.no_color, out)
    text = summary_table(result.summary, color) if args.quiet else narrate(result, color)
    out.write(text + "\n")
    if written:
        out.write("\nWrote " + ", ".join(str(p) for p in written) + "\n")
    return 0


def _plot_path(args: argparse.Namespace, name: str) -> Path | None:
    if args.plot is None:
        return None
    if args.plot is not True:
        return Path(args.plot)
    if args.out is not None:
        return args.out / "timeline.png"
    return Path(re.sub(r"[^\w.-]+", "-", name).strip("-.") or "timeline").with_suffix(".png")


def _require_plotting() -> None:
    try:
        from . import plots  # noqa: F401
    except ImportError as exc:
        raise InternalError(f"--plot: plotting is not available ({exc})") from None


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as strict JSON (NaN and infinities become null)."""
    return json.dumps(_plain(summary), indent=2, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class _Staging:
    """Output files written aside and moved into place only when all are ready.

    A failure removes the staged files and every folder this run created, so nothing
    half-written is left behind and nothing that was there before is touched.
    """

    def __init__(self) -> None:
        self.created: list[Path] = []  # folders this run created, outermost first
        self.temporary: list[Path] = []
        self.moves: list[tuple[Path, Path]] = []

    def ensure_dir(self, folder: Path) -> None:
        missing = []
        p = folder.absolute()
        while not p.exists():
            missing.append(p)
            p = p.parent
        folder.mkdir(parents=True, exist_ok=True)
        self.created.extend(reversed(missing))

    def stage_dir(self, folder: Path) -> Path:
        """A scratch folder inside ``folder``; its files land in ``folder`` on commit."""
        self.ensure_dir(folder)
        scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
        self.temporary.append(scratch)
        return scratch

    def stage_file(self, path: Path) -> Path:
        """A scratch name next to ``path`` (same suffix, so writers pick the same format)."""
        self.ensure_dir(path.parent)
        fd, name = tempfile.mkstemp(prefix=".partial-", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        scratch = Path(name)
        self.temporary.append(scratch)
        self.moves.append((scratch, path))
        return scratch

    def commit(self, scratch_dir: Path | None, folder: Path | None) -> list[Path]:
        final = []
        if scratch_dir is not None and folder is not None:
            for item in sorted(scratch_dir.iterdir()):
                self.moves.append((item, folder / item.name))
        for src, dst in self.moves:
            os.replace(src, dst)
            final.append(dst)
        self.cleanup()
        return final

    def cleanup(self) -> None:
        for path in self.temporary:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        self.temporary.clear()

    def abandon(self) -> None:
        self.cleanup()
        for folder in self.created:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
                break  # the outermost created folder holds the rest
        self.created.clear()


def _write_outputs(
    result: Any, out: Path | None, plot_path: Path | None, requests_format: str
) -> list[Path]:
    if out is None and plot_path is None:
        return []
    staging = _Staging()
    try:
        scratch = staging.stage_dir(out) if out is not None else None
        if plot_path is not None:
            inside = out is not None and plot_path.parent.absolute() == out.absolute()
            target = scratch / plot_path.name if inside else staging.stage_file(plot_path)
            _draw(result, target)
        if out is not None:
            result.save(scratch, requests_format=requests_format)
        return staging.commit(scratch, out)
    except BaseException:
        staging.abandon()
        raise


def _draw(result: Any, path: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    try:
        fig = result.plot(path)
    except ImportError as exc:
        raise InternalError(f"--plot: plotting is not available ({exc})") from None
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # a figure not made by pyplot needs no closing
        pass


# --------------------------------------------------------------------------------------------
# validate, scenarios


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: load and check a scenario; nothing runs."""
    sc = load_scenario(args.scenario, overrides=args.overrides)
    controller = sc.deployment.controller
    print(f"{args.scenario}: valid ({sc.name}, {controller}, {format_duration(sc.duration)})")
    return 0


def scenario_dirs(explicit: Path | None = None) -> list[Path]:
    """Where ``scenarios`` looks: ``--dir``, else ``$BLUEGREEN_SCENARIOS``, else the bundled."""
    if explicit is not None:
        return [explicit]
    env = os.environ.get(ENV_SCENARIOS)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path(__file__).resolve().parent.parent / "scenarios"]


def cmd_scenarios(args: argparse.Namespace) -> int:
    """``scenarios``: list name and first description line of each scenario file."""
    dirs = scenario_dirs(args.dir)
    found = [d for d in dirs if d.is_dir()]
    if not found:
        where = ", ".join(str(d) for d in dirs)
        raise UsageError(f"no scenarios folder at {where} (use --dir or ${ENV_SCENARIOS})")
    out = sys.stdout
    for folder in found:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SCENARIO_SUFFIXES)
        rows, others = [], []
        for path in files:
            try:
                sc = load_scenario(path)
            except ScenarioError as exc:
                others.append(
                    f"{path.name} (not a valid scenario: {exc.field or ''} {exc.message})"
                )
                continue
            rows.append((path.name, sc.name, first_line(sc.description)))
        out.write(f"Scenarios in {folder}:\n")
        if not rows:
            out.write("  (none)\n")
        w_file = max((len(r[0]) for r in rows), default=0)
        w_name = max((len(r[1]) for r in rows), default=0)
        for file, name, desc in rows:
            out.write(f"  {file:<{w_file}}  {name:<{w_name}}  {desc}".rstrip() + "\n")
        for other in others:
            out.write(f"  also: {' '.join(other.split())}\n")
        if rows:
            out.write(f"Run one with: {PROG} run {folder / rows[0][0]}\n")
    return 0


# --------------------------------------------------------------------------------------------
# compare, sweep


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME=k=v;k=v`` → (NAME, {k: v}); values are YAML scalars (``0.05`` is a number)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"--variant: expected NAME='key=value[;key=value...]', got {text!r}")
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(";"))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--variant {name}: expected key=value, got {item!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            overrides[key.strip()] = value
    return name, overrides


def cmd_compare(args: argparse.Namespace) -> int:
    """``compare``: the same seeds through every variant; print the comparison table."""
    variants: dict[str, dict[str, Any]] = {}
    for text in args.variant:
        name, overrides = parse_variant(text)
        if name in variants:
            raise UsageError(f"--variant: the name {name!r} is given twice")
        variants[name] = overrides
    scenario = load_scenario(args.scenario, overrides=args.overrides)
    for name, overrides in variants.items():  # refuse a bad variant before anything runs
        try:
            load_scenario(args.scenario, overrides=args.overrides + _as_items(overrides))
        except ScenarioError as exc:
            raise ScenarioError(f"{exc.source} (variant {name})", exc.field, exc.message) from None
    try:
        from .compare import compare, format_comparison
    except ImportError as exc:
        raise InternalError(f"compare is not available in this installation ({exc})") from None
    df = compare(scenario, variants=variants, seeds=range(args.seeds))
    written = _write_table(df, args.out, args.plot)
    sys.stdout.write(format_comparison(df) + "\n")
    if written:
        sys.stdout.write("\nWrote " + ", ".join(str(p) for p in written) + "\n")
    return 0


def _as_items(overrides: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]


def _write_table(df: Any, out: Path | None, plot: Path | None) -> list[Path]:
    if out is None and plot is None:
        return []
    staging = _Staging()
    try:
        if out is not None:
            scratch = staging.stage_file(out)
            suffix = out.suffix.lower()
            if suffix == ".parquet":
                df.to_parquet(scratch, index=False)
            elif suffix == ".json":
                df.to_json(scratch, orient="records", indent=2)
            else:
                df.to_csv(scratch, index=False)
        if plot is not None:
            os.environ.setdefault("MPLBACKEND", "Agg")
            try:
                from .compare import plot_comparison
            except ImportError as exc:
                raise InternalError(f"--plot: comparison plots are not available ({exc})") from None
            fig = plot_comparison(df)
            fig.savefig(staging.stage_file(plot), dpi=110, bbox_inches="tight")
        return staging.commit(None, None)
    except BaseException:
        staging.abandon()
        raise


def cmd_sweep(args: argparse.Namespace) -> int:
    """``sweep``: run a sweep file, print one summary row per grid point."""
    try:
        from .sweep import summarize, sweep_file
    except ImportError as exc:
        raise InternalError(f"sweep is not available in this installation ({exc})") from None
    df = sweep_file(
        args.sweep_file,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        out=args.out,
        progress=False if args.no_progress else None,  # None: only on a terminal
    )
    sys.stdout.write(summarize(df).to_string() + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

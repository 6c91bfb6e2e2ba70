"""``bluegreen-sim calibrate``: the command-line face of :func:`calibrate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CalibrationError

PROG = "bluegreen-sim"


def add_calibrate_parser(
    subparsers: argparse._SubParsersAction, **kwargs
) -> argparse.ArgumentParser:
    """Add the ``calibrate`` subcommand (``kwargs`` go to ``add_parser``, e.g. ``parents``)."""
    cal = subparsers.add_parser(
        "calibrate",
        help="fit the workload to ALB access logs and CloudWatch exports",
        description="Fit the workload (rate over time, service time, error rates, number of "
        "targets) to ALB access logs (plain or .gz, or folders as laid out in S3) and "
        "CloudWatch JSON exports; print what was derived, with its evidence.",
        **kwargs,
    )
    cal.add_argument("paths", nargs="+", metavar="PATH", help="log files, folders, JSON exports")
    cal.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the workload YAML (and FILE's .trace.csv and .latency.csv beside it)",
    )
    cal.add_argument(
        "--check",
        action="store_true",
        help="run the simulator on the fitted workload and compare it with the logs",
    )
    cal.add_argument(
        "--latency",
        choices=("empirical", "lognormal"),
        default="empirical",
        help="service time in the workload: the observed quantiles (default) or the lognormal fit",
    )
    cal.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="requests a task serves at once in the model (default: fitted)",
    )
    cal.add_argument("--seeds", type=int, default=3, metavar="N", help="runs of the check")
    cal.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PATH",
        help="the check's figure (default: next to --out)",
    )
    cal.add_argument("--json", action="store_true", help="print the report as JSON")
    cal.add_argument("--no-progress", action="store_true", help="no progress bar")
    cal.set_defaults(handler=run_calibrate)
    return cal


def run_calibrate(args: argparse.Namespace) -> int:
    """Run ``calibrate``; returns the exit status (2 with one line on a bad input)."""
    import json

    from .calibrate import calibrate

    if args.concurrency is not None and args.concurrency < 1:
        print(f"{PROG}: error: --concurrency: expected a number >= 1", file=sys.stderr)
        return 2
    try:
        _, report = calibrate(
            args.paths,
            out=args.out,
            check=args.check,
            latency=args.latency,
            concurrency=args.concurrency,
            check_seeds=max(1, args.seeds),
            plot=args.plot,
            progress=False if args.no_progress else None,
        )
    except CalibrationError as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    if args.out is not None:
        files = ", ".join(report.files_written)
        print(f"Wrote {files}", file=sys.stderr if args.json else sys.stdout)
    elif not args.json:
        print("(nothing written: --out FILE writes the workload and its CSV files)")
    return 0

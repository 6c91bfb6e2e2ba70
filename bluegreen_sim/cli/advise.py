"""``bluegreen-sim advise``: which candidate setup to use, and what one canary step can catch.

::

    bluegreen-sim advise scenarios/canary-bad-green.yaml --candidates candidates.yaml --out advice/
    bluegreen-sim advise power --rate 150 --weight 10 --bake 5m \\
        --alarm threshold=20 --alarm evaluation_periods=3 --alarm datapoints_to_alarm=2

The first form measures every candidate (:func:`~bluegreen_sim.analysis.advise.advise`),
prints the table and the recommendation, and with ``--out`` writes ``advice.csv`` (every
measure with its interval), ``candidates.csv`` (one row per candidate), ``recommended.yaml``
(the recommended scenario) and ``tradeoffs.png``; ``--export FORMAT`` adds the recommended
setup as an ``export`` snippet (``recommended.cfn.yaml``, ``.tf``, ``.json`` or
``.appspec.yaml``). The second is the power calculator
(:mod:`~bluegreen_sim.analysis.power`).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..scenario import load_scenario, parse_duration

__all__ = ["add_advise_parser", "run_advise"]

_ALARM_FIELDS = {
    "threshold": float,
    "comparison": str,
    "period": parse_duration,
    "evaluation_periods": int,
    "datapoints_to_alarm": int,
    "treat_missing_data": str,
    "ratio": lambda v: str(v).lower() in ("1", "true", "yes"),
    "factor": float,
    "dimension": str,
}


def add_advise_parser(subparsers, parents=()) -> argparse.ArgumentParser:
    """Add ``advise`` to the ``bluegreen-sim`` subcommands."""
    p = subparsers.add_parser(
        "advise",
        parents=list(parents),
        help="which canary and alarm to use; 'advise power' for one step's detection power",
        description="Measure candidate strategies x alarm settings against a healthy release "
        "and a list of regressions, and recommend one; or, as 'advise power', compute what one "
        "canary step detects.",
    )
    p.add_argument("scenario", help="scenario file, or the word 'power' for the calculator")
    g = p.add_argument_group("advise SCENARIO")
    g.add_argument("--candidates", type=Path, metavar="FILE", help="YAML: name: {overrides}")
    g.add_argument("--backend", choices=("serial", "processes", "dask"), default="serial")
    g.add_argument("--workers", type=int, default=None, metavar="N")
    g.add_argument("--address", default=None, metavar="ADDR", help="Dask scheduler address")
    g.add_argument("--method", choices=("auto", "simulate"), default="auto")
    g.add_argument(
        "--max-reps",
        type=int,
        default=40,
        metavar="N",
        help="most replications of a simulated measure (default 40; the notes say which "
        "intervals are still too wide to rank)",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", type=Path, default=None, metavar="DIR")
    g.add_argument(
        "--export",
        choices=("cloudformation", "terraform", "ecs-json", "appspec"),
        default=None,
        help="also write the recommended setup in this format next to recommended.yaml",
    )
    g.add_argument("--max-false-rollback", type=float, default=0.01, metavar="P")
    g.add_argument("--min-detect", type=float, default=0.95, metavar="P")
    w = p.add_argument_group("advise power")
    w.add_argument("--rate", type=float, metavar="RPS", help="production requests per second")
    w.add_argument("--weight", type=float, metavar="PCT", help="canary weight, percent")
    w.add_argument("--bake", metavar="T", help="bake time of the step (90s, 5m, ...)")
    w.add_argument("--baseline", type=float, default=0.001, help="healthy error rate")
    w.add_argument("--delta", type=float, default=None, help="a regression (extra errors)")
    w.add_argument("--alpha", type=float, default=0.01, help="largest P(false rollback)")
    w.add_argument("--beta", type=float, default=0.05, help="1 - required P(detect)")
    w.add_argument(
        "--alarm",
        action="append",
        default=[],
        metavar="K=V",
        help="alarm field: " + ", ".join(_ALARM_FIELDS),
    )
    p.set_defaults(handler=run_advise)
    return p


def run_advise(args: argparse.Namespace) -> int:
    """Run ``advise`` or ``advise power``; returns the exit status."""
    if args.scenario == "power" and not Path("power").exists():
        return _run_power(args)
    return _run_scenario(args)


def _usage(message: str) -> Exception:
    from .common import UsageError  # the command line's own error type (exit status 2)

    return UsageError(message)


def _alarm(items: list[str]):
    from ..analysis.detection import CountAlarm, NotAnalytic

    fields: dict[str, Any] = {"threshold": 0.0}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in _ALARM_FIELDS:
            raise _usage(f"--alarm: expected K=V with K one of {', '.join(_ALARM_FIELDS)}")
        try:
            fields[key] = _ALARM_FIELDS[key](value.strip())
        except ValueError:
            raise _usage(f"--alarm {key}: {value!r} is not a valid value") from None
    try:
        return CountAlarm(**fields)
    except NotAnalytic as exc:
        raise _usage(f"--alarm: {exc}") from None
    except ValueError as exc:
        raise _usage(f"--alarm: {exc}") from None


def _run_power(args: argparse.Namespace) -> int:
    from ..analysis.power import min_exposure, smallest_detectable, step_power

    for name in ("rate", "weight", "bake"):
        if getattr(args, name) is None:
            raise _usage(f"advise power needs --{name}")
    try:
        bake = parse_duration(args.bake)
    except ValueError as exc:
        raise _usage(f"--bake: {exc}") from None
    if args.rate <= 0 or not 0 < args.weight <= 100 or bake < 60:
        raise _usage("advise power needs --rate > 0, 0 < --weight <= 100 and --bake >= 1m")
    if not 0 <= args.baseline < 1:
        raise _usage("--baseline must be in [0, 1)")
    alarm = _alarm(args.alarm)
    step = dict(rate=args.rate, weight=args.weight, bake=bake)
    kind = f"{alarm.factor:g} * 5XX / RequestCount" if alarm.ratio else "Sum of 5XX"
    out = [
        f"alarm: {kind} ({alarm.dimension}) {alarm.comparison} {alarm.threshold:g}, "
        f"{alarm.m} of {alarm.evaluation_periods} periods of {alarm.period:g}s, "
        f"missing data: {alarm.treat_missing_data}",
        f"step: {args.weight:g} % of {args.rate:g} req/s for {bake:g}s; healthy error rate "
        f"{args.baseline:.3%}",
    ]
    _, p_false = step_power(alarm, baseline=args.baseline, delta=0.0, **step)
    out.append(f"P(false rollback during the step): {p_false:.4g}")
    if args.delta is not None:
        p_detect, _ = step_power(alarm, baseline=args.baseline, delta=args.delta, **step)
        out.append(f"P(detect +{args.delta:.3%} errors): {p_detect:.4g}")
    delta = smallest_detectable(alarm, baseline=args.baseline, beta=args.beta, **step)
    out.append(
        f"smallest regression detected with P >= {1 - args.beta:g}: "
        + ("none (even 100 % errors)" if math.isinf(delta) else f"+{delta:.3%} errors")
    )
    if args.delta is not None:
        table = min_exposure(
            alarm,
            rate=args.rate,
            baseline=args.baseline,
            delta=args.delta,
            alpha=args.alpha,
            beta=args.beta,
            tune_threshold=not alarm.ratio and alarm.comparison.startswith("Greater"),
        )
        ok = table[table["feasible"]] if len(table) else table
        if len(ok):
            best = ok.iloc[0]
            out.append(
                f"smallest exposure for +{args.delta:.3%} with P(false) <= {args.alpha:g}: "
                f"{best['weight']:g} % for {best['bake_s'] / 60:g} min "
                f"(threshold {best['threshold']:g}, P(detect) {best['p_detect']:.3g}, "
                f"P(false) {best['p_false']:.3g})"
            )
        else:
            out.append(f"no weight x bake tried reaches that for +{args.delta:.3%}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _run_scenario(args: argparse.Namespace) -> int:
    from ..analysis.advise import advise, load_candidates
    from ..analysis.recommend import export_recommendation, recommend

    scenario = load_scenario(args.scenario)
    candidates = load_candidates(args.candidates) if args.candidates else None
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise _usage(f"--out: {args.out} exists and is not a directory")
    if args.max_reps < 1:
        raise _usage("--max-reps must be >= 1")
    if args.export is not None and args.out is None:
        raise _usage("--export needs --out (the folder to write into)")
    advice = advise(
        scenario,
        candidates,
        method=args.method,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        max_reps=args.max_reps,
        seed=args.seed,
        max_false_rollback=args.max_false_rollback,
        min_detect=args.min_detect,
    )
    rec = recommend(advice, max_false_rollback=args.max_false_rollback, min_detect=args.min_detect)
    shown = rec.table[[c for c in rec.table.columns if not c.endswith(("_low", "_high"))]]
    text = shown.to_string(float_format=lambda v: f"{v:.4g}")
    lines = [text, ""] + [f"note: {n}" for n in advice.notes] + [f"recommended: {rec.reason}"]
    if args.out is not None:
        written = _write(args.out, advice, rec, export_recommendation, args.export)
        lines.append("wrote " + ", ".join(str(p) for p in written))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _custom_config_note(scenario) -> None:
    """A custom CodeDeploy config is created by its own command: say which (as ``export``)."""
    from ..interop.export import custom_config_command

    command = custom_config_command(scenario)
    if command is not None:
        sys.stderr.write(
            f"the recommended deployment config is custom: create it with\n  {command}\n"
        )


def _write(out: Path, advice, rec, export, to: str | None = None) -> list[Path]:
    """Write into a temporary folder first, so a failure leaves nothing half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".advise-", dir=out.parent))
    try:
        advice.results.to_csv(tmp / "advice.csv", index=False)
        rec.table.to_csv(tmp / "candidates.csv")
        (tmp / "notes.yaml").write_text(
            yaml.safe_dump({"notes": advice.notes, "recommendation": rec.reason}),
            encoding="utf-8",
        )
        if rec.scenario is not None:
            export(rec, tmp / "recommended.yaml")
            if to is not None:
                from ..analysis.recommend import EXPORT_SUFFIXES

                export(rec, tmp / ("recommended" + EXPORT_SUFFIXES[to]), to=to)
                if to == "ecs-json":  # the templates carry the config; the CLI input cannot
                    _custom_config_note(rec.scenario)
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = rec.plot()
            fig.savefig(tmp / "tradeoffs.png", dpi=110)
            plt.close(fig)
        except ImportError:
            pass
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            target = out / f.name
            f.replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""``compare`` and ``sweep``: many runs of a scenario, as a table."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from ..scenario import Scenario, ScenarioError, load_scenario
from ..scenario.files import is_sweep_file, read_mapping
from .common import InternalError, UsageError
from .run import _Staging

BASELINE = "baseline"


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
    if not args.no_baseline and all(variants.values()):
        # What each variant changes is read against the scenario as it is: show it first.
        if BASELINE in variants:
            raise UsageError(f"--variant: {BASELINE!r} names the scenario as it is; rename it")
        variants = {BASELINE: {}, **variants}
    if not variants:
        raise UsageError("--no-baseline leaves nothing to compare; give --variant NAME=...")
    scenario = load_scenario(args.scenario, overrides=args.overrides)
    for name, overrides in variants.items():  # refuse a bad variant before anything runs
        try:
            load_scenario(args.scenario, overrides=args.overrides + _as_items(overrides))
        except ScenarioError as exc:
            raise ScenarioError(f"{exc.source} (variant {name})", exc.field, exc.message) from None
    try:
        from ..analysis.compare import compare, format_comparison
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
                from ..analysis.compare import plot_comparison
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
        from ..analysis.sweep import summarize, sweep_file
    except ImportError as exc:
        raise InternalError(f"sweep is not available in this installation ({exc})") from None
    raw = read_mapping(args.sweep_file)
    if not is_sweep_file(raw) and set(raw) & set(Scenario.model_fields):
        raise UsageError(
            f"{args.sweep_file} is a scenario, not a sweep file (a sweep file names its base "
            "with 'scenario: FILE' and varies it with a 'grid'); run it with "
            f"'bluegreen-sim run {args.sweep_file}' or compare variants with "
            "'bluegreen-sim compare'"
        )
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

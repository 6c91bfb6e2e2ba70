"""The ``import`` and ``export`` subcommands (wired into ``bluegreen_sim.cli``).

::

    bluegreen-sim import template.yaml params.json --out my.yaml
    bluegreen-sim import main.tf variables.tf prod.tfvars --var env=prod
    bluegreen-sim import --from-aws --cluster prod --service web --region eu-west-1
    bluegreen-sim export my.yaml --to cloudformation

A refusal is one line and exit status 2 (a :class:`ScenarioError`, which the main command
prints); the scenario file is written only once it is valid.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..scenario import ScenarioError

EXTRA_HINT = "pip install 'bluegreen-sim[interop]'"


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError(flag, item, "expected NAME=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def _var_value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool | list | dict) else text


def add_import_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        parents=parents,
        help="read your CloudFormation / Terraform / AppSpec / AWS account into a scenario",
        description="Import deployment definitions (format read from the content) into a "
        "scenario, with a report of what was mapped, defaulted, ignored and looks wrong.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to combine into one scenario")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the scenario YAML to FILE")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CloudFormation parameter value (repeatable)",
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Terraform variable value (repeatable)",
    )
    p.add_argument("--service", metavar="NAME", help="which ECS service, if there are several")
    p.add_argument(
        "--report", type=Path, metavar="FILE", help="also write the report as YAML to FILE"
    )
    p.add_argument("--from-aws", action="store_true", help="read a live account (read-only)")
    p.add_argument("--cluster", help="ECS cluster (with --from-aws)")
    p.add_argument("--region", help="AWS region (with --from-aws)")
    p.add_argument("--profile", help="AWS profile (with --from-aws)")
    p.set_defaults(handler=run_import)


def add_export_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        parents=parents,
        help="write a scenario's deployment settings as CloudFormation, Terraform, ECS or AppSpec",
        description="Print the deployment settings of a scenario as a snippet to paste into "
        "your definition.",
    )
    p.add_argument("scenario", help="scenario file")
    p.add_argument(
        "--to", required=True, choices=("cloudformation", "terraform", "ecs-json", "appspec")
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=run_export)


def _require(module: str, package: str, extra: str = "interop") -> None:
    try:
        __import__(module)
    except ImportError:
        raise ScenarioError(
            "import", None, f"this needs {package}: pip install 'bluegreen-sim[{extra}]'"
        ) from None


def run_import(args: argparse.Namespace) -> int:
    """``bluegreen-sim import``; returns the exit status."""
    from .importer import import_raw, import_sources, validate
    from .report import scenario_yaml

    if args.from_aws:
        if args.paths:
            raise ScenarioError("import", None, "give either files or --from-aws, not both")
        if not args.cluster or not args.service:
            raise ScenarioError("import", "--from-aws", "needs --cluster and --service")
        _require("boto3", "boto3", "aws")
        from .live import describe

        sources = describe(args.cluster, args.service, region=args.region, profile=args.profile)
        raw, report = import_sources(sources, service=args.service)
        origin = f"AWS account: cluster {args.cluster}, service {args.service}"
    else:
        if not args.paths:
            raise ScenarioError("import", None, "give the files to import (or --from-aws)")
        _require("cfnlint", "cfn-lint")
        _require("hcl2", "python-hcl2")
        params = _pairs(args.param, "--param")
        variables = {k: _var_value(v) for k, v in _pairs(args.var, "--var").items()}
        raw, report = import_raw(args.paths, params, variables, args.service)
        origin = ", ".join(str(p) for p in args.paths)
    validate(raw, report)
    header = (
        f"Imported by 'bluegreen-sim import' from {origin}.\n"
        "Each value names the file and path it came from, or why it was assumed.\n"
        "The workload (load.*, service latency/concurrency, green.error_rate) is a placeholder."
    )
    text = scenario_yaml(raw, report, header)
    if args.out is not None:
        _write_atomically(args.out, text)
        if args.report is not None:
            _write_atomically(args.report, yaml.safe_dump(report.as_dict(), sort_keys=False))
        print(report.text())
        print(f"\nWrote {args.out}")
    else:
        sys.stdout.write(text)
        print("\n" + "\n".join("# " + line for line in report.text().splitlines()))
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``bluegreen-sim export``; returns the exit status."""
    from ..scenario import load_scenario
    from .export import custom_config_command, export

    scenario = load_scenario(args.scenario)
    text = export(scenario, args.to)
    command = custom_config_command(scenario) if args.to == "ecs-json" else None
    if command is not None:  # the group input names a config that must exist first
        print(f"note: create the custom deployment config first: {command}", file=sys.stderr)
    if args.out is not None:
        _write_atomically(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ScenarioError(str(path), None, "the folder does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".import-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

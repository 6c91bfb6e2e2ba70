"""``schema``: the scenario file's JSON Schema (or, with ``--markdown``, the reference page)."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema editors use to complete and check scenario files."""
    from ..scenario.reference import reference_markdown, scenario_schema

    if args.markdown:
        sys.stdout.write(reference_markdown())
    else:
        sys.stdout.write(json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n")
    return 0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``schema`` on the subcommands."""
    p = sub.add_parser(
        "schema",
        parents=[common],
        help="print the scenario JSON Schema (for editors)",
        description="Print the JSON Schema of scenario files: `bluegreen-sim schema > "
        "scenario.schema.json`, then point your editor's YAML support at it (first line of a "
        "scenario: `# yaml-language-server: $schema=scenario.schema.json`).",
    )
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the scenario reference (docs/scenario-reference.md) instead",
    )
    p.set_defaults(handler=cmd_schema)

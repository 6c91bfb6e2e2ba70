"""``scenarios``: the bundled lessons, and where they are found."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..results.narrate import first_line
from ..scenario import ScenarioError, load_scenario
from .common import ENV_SCENARIOS, PROG, SCENARIO_SUFFIXES, UsageError


def scenario_dirs(explicit: Path | None = None) -> list[Path]:
    """Where ``scenarios`` looks: ``--dir``, else ``$BLUEGREEN_SCENARIOS``, else the bundled
    lessons (package data: ``bluegreen_sim/lessons``)."""
    if explicit is not None:
        return [explicit]
    env = os.environ.get(ENV_SCENARIOS)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [bundled_dir()]


def bundled_dir() -> Path:
    """The lessons shipped with the package (in a checkout, a link to ``scenarios/``)."""
    return Path(__file__).resolve().parents[1] / "lessons"


def find_scenario(text: str) -> str:
    """A scenario argument as given, or a bundled lesson named without its folder.

    ``bluegreen-sim run 06-blast-radius-all-at-once`` runs the installed lesson, so the
    lessons work after ``pip install`` without a checkout. A path that exists always wins.
    """
    path = Path(text)
    if path.exists() or len(path.parts) != 1:
        return text
    for folder in scenario_dirs():
        for name in (text, *(text + suffix for suffix in SCENARIO_SUFFIXES)):
            if (folder / name).is_file():
                return str(folder / name)
    return text


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
            first = Path(rows[0][0]).stem if folder == bundled_dir() else folder / rows[0][0]
            out.write(f"Run one with: {PROG} run {first}\n")
    return 0


# --------------------------------------------------------------------------------------------
# compare, sweep

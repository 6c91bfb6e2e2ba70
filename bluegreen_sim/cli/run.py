"""``run`` and ``validate``: one scenario, narrated, with its outputs written only on success."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..results.narrate import format_duration, narrate, summary_table
from ..scenario import load_scenario
from .common import InternalError, UsageError, use_color

# --------------------------------------------------------------------------------------------
# run


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: validate, simulate, then write the outputs and tell the story."""
    from ..aws.controllers import CONTROLLERS
    from ..engine.simulation import simulate

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
        from ..results import plots  # noqa: F401
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



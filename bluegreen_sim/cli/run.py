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

from ..results.capacity import capacity_lines, capacity_warnings, offered_utilisation
from ..results.narrate import format_duration, narrate, summary_table
from ..scenario import load_scenario
from ..scenario.files import scenario_yaml
from .common import PROG, InternalError, UsageError, use_color, version, warn
from .lessons import find_scenario

# --------------------------------------------------------------------------------------------
# run


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: validate, simulate, then write the outputs and tell the story."""
    from ..aws.controllers import CONTROLLERS
    from ..engine.simulation import simulate

    args.scenario = find_scenario(args.scenario)
    scenario = load_scenario(args.scenario, overrides=args.overrides)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} exists and is not a directory")
    for line in capacity_warnings(offered_utilisation(scenario)):
        warn(line)
    if args.record_requests:
        _check_memory(scenario)
    plot_path = _plot_path(args, scenario.name)
    if plot_path is not None:
        _require_plotting()
    controller = scenario.deployment.controller
    if controller not in CONTROLLERS:
        raise InternalError(
            f"{args.scenario}: deployment.controller: '{controller}' is not available in this "
            "installation"
        )
    bar, progress = _progress_bar(scenario.duration)
    try:
        result = simulate(
            scenario, seed=args.seed, record_requests=args.record_requests, progress=progress
        )
    finally:
        if bar is not None:
            bar.close()
    if args.overrides:
        result.summary["overrides"] = list(args.overrides)
    record = {
        "scenario_file": str(args.scenario),
        "overrides": list(args.overrides),
        "seed": result.summary["seed"],
        "version": version(),
        "command": " ".join([PROG, *sys.argv[1:]]) if sys.argv[1:] else None,
    }
    written = _write_outputs(
        result, args.out, plot_path, args.requests_format, record, full_plot=args.plot_full
    )

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


# Memory a recorded request takes at the peak: its row in the recorder's chunks, the
# concatenated columns, the DataFrame and its sorted copy (~7 columns of 8 bytes each).
_BYTES_PER_RECORDED_REQUEST = 4 * 7 * 8


def expected_requests(scenario: Any) -> float:
    """The mean number of production requests of a run: the rate integrated over its length."""
    import numpy as np

    from ..results.capacity import _rate

    t = np.arange(0.0, scenario.duration, 1.0) + 0.5
    return float(_rate(scenario, t).sum()) if len(t) else 0.0


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None  # unknown: let the run try


def _check_memory(scenario: Any) -> None:
    """Refuse --record-requests when the rows could not fit in memory."""
    n = expected_requests(scenario)
    need = n * _BYTES_PER_RECORDED_REQUEST
    free = _available_memory()
    if free is not None and need > free:
        raise UsageError(
            f"--record-requests: about {n:,.0f} requests × {_BYTES_PER_RECORDED_REQUEST} bytes "
            f"= {need / 2**30:.1f} GiB, more than the {free / 2**30:.1f} GiB of memory "
            "available; shorten the run (duration), lower load.rps, or run without "
            "--record-requests (the timeline and summary do not need it)"
        )


PROGRESS_DELAY_S = 2.0  # a run shorter than this shows no progress line


def _progress_bar(duration: float) -> tuple[Any, Any]:
    """A progress line on stderr, for a terminal only, shown once a run has taken 2 s."""
    try:
        if not sys.stderr.isatty():
            return None, None
        from tqdm import tqdm
    except (ImportError, AttributeError, ValueError):
        return None, None
    bar = tqdm(
        total=round(duration),
        delay=PROGRESS_DELAY_S,
        desc="simulating",
        unit="s",
        file=sys.stderr,
        leave=False,
        bar_format="{desc} {n_fmt}/{total_fmt} simulated seconds |{bar}| {elapsed}<{remaining}",
    )

    def update(t: float) -> None:
        bar.update(round(t) - bar.n)

    return bar, update


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
    result: Any,
    out: Path | None,
    plot_path: Path | None,
    requests_format: str,
    record: dict[str, Any] | None = None,
    full_plot: bool = False,
) -> list[Path]:
    if out is None and plot_path is None:
        return []
    staging = _Staging()
    try:
        scratch = staging.stage_dir(out) if out is not None else None
        if plot_path is not None:
            inside = out is not None and plot_path.parent.absolute() == out.absolute()
            target = scratch / plot_path.name if inside else staging.stage_file(plot_path)
            _draw(result, target, full_plot)
        if out is not None:
            result.save(scratch, requests_format=requests_format)
            if result.scenario is not None:
                # What ran: the scenario after the overrides, and how it was run.
                (scratch / "scenario.yaml").write_text(scenario_yaml(result.scenario))
            if record is not None:
                (scratch / "run.json").write_text(json.dumps(_plain(record), indent=2) + "\n")
        return staging.commit(scratch, out)
    except BaseException:
        staging.abandon()
        raise


def _draw(result: Any, path: Path, full: bool = False) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    try:
        fig = result.plot(path, full=True) if full else result.plot(path)
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
    """``validate``: load and check a scenario, print its capacity; nothing runs."""
    args.scenario = find_scenario(args.scenario)
    sc = load_scenario(args.scenario, overrides=args.overrides)
    controller = sc.deployment.controller
    print(f"{args.scenario}: valid ({sc.name}, {controller}, {format_duration(sc.duration)})")
    if args.overrides:
        print("with overrides: " + ", ".join(args.overrides))
    loads = offered_utilisation(sc)
    for line in capacity_lines(loads):
        print(line)
    for line in capacity_warnings(loads):
        warn(line)
    return 0

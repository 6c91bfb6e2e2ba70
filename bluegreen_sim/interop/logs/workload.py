"""Writing a workload: the YAML fragment and its two CSV files, all three or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .report import CalibrationReport


def workload_files(out: str | os.PathLike) -> tuple[Path, Path, Path]:
    """(workload YAML, trace CSV, latency CSV) for an output name."""
    out = Path(out)
    stem = out.with_suffix("")
    return out, Path(f"{stem}.trace.csv"), Path(f"{stem}.latency.csv")


def write_workload(report: CalibrationReport, out: str | os.PathLike) -> list[Path]:
    """Write the workload and its CSV files; all three appear together or none does."""
    path, trace_path, latency_path = workload_files(out)
    workload = report.workload
    workload["load"]["trace"] = trace_path.name
    lat = workload.get("service", {}).get("latency", {})
    if lat.get("distribution") == "empirical":
        lat["file"] = latency_path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for target, write in (
            (trace_path, lambda p: report.trace.to_csv(p, index=False, float_format="%.6g")),
            (latency_path, lambda p: _write_latency(report, p)),
            (path, lambda p: p.write_text(_yaml(workload), encoding="utf-8")),
        ):
            if target is latency_path and lat.get("distribution") != "empirical":
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
            staged.append((Path(tmp), target))
            write(Path(tmp))
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [t for _, t in staged]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_latency(report: CalibrationReport, path: Path) -> None:
    values = pd.DataFrame({"latency_ms": np.round(report.latency_ms, 4)})
    values.to_csv(path, index=False)


def _yaml(workload: dict[str, Any]) -> str:
    head = (
        "# A workload calibrated by `bluegreen-sim calibrate`: merge `load` and `service` into\n"
        "# a scenario (the CSV files named here sit beside this file).\n"
    )
    return head + yaml.safe_dump(workload, sort_keys=False, default_flow_style=False)

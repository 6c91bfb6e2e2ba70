"""What one run gives back: :class:`Result` (summary, timeline, events, metrics, alarms, requests).

Counts in ``summary``, ``timeline`` and ``requests`` are production traffic only; test-listener
traffic is counted on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Result:
    """Everything one run produced. Times are seconds from the start of the simulation."""

    summary: dict[str, Any]
    timeline: pd.DataFrame
    events: pd.DataFrame
    metrics: pd.DataFrame
    alarms: pd.DataFrame
    requests: pd.DataFrame | None = None
    scenario: Any = field(default=None, repr=False)

    def plot(self, path: str | Path | None = None, *, full: bool = False) -> Figure:
        """One figure with aligned panels over time (see :mod:`bluegreen_sim.results.plots`);
        the time axis ends shortly after the deployment unless ``full``."""
        from .plots import plot_result

        fig = plot_result(self, full=full)
        if path is not None:
            fig.savefig(path, dpi=110, bbox_inches="tight")
        return fig

    def save(self, out: str | Path, *, requests_format: str = "parquet") -> list[Path]:
        """Write summary.json, timeline.csv, events.csv, metrics.csv, alarms.csv (and the
        requests, when recorded) into ``out``; returns the paths written."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "summary.json"]
        (out / "summary.json").write_text(json.dumps(self.summary, indent=2, default=_json))
        for name in ("timeline", "events", "metrics", "alarms"):
            path = out / f"{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            written.append(path)
        if self.requests is not None:
            if requests_format == "parquet":
                try:
                    path = out / "requests.parquet"
                    self.requests.to_parquet(path, index=False)
                except ImportError:
                    requests_format = "csv"
            if requests_format == "csv":
                path = out / "requests.csv"
                self.requests.to_csv(path, index=False)
            written.append(path)
        return written


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")

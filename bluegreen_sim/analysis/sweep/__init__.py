"""Sweeps: grids of scenario fields × replications on serial, process or Dask backends.

``api`` holds the entry points (:func:`sweep`, :func:`sweep_file`, :func:`rerun`); ``grid`` the
combinations and seeds; ``table`` the one-row-per-run table; ``backends`` the runners and the
progress bar; ``store`` saving and resuming; ``summary`` the summaries and figures.
"""

from .api import SweepFile, load_sweep_file, rerun, sweep, sweep_file
from .grid import grid_points
from .summary import grid_columns, plot_detection, plot_risk_speed, summarize

__all__ = [
    "SweepFile",
    "grid_columns",
    "grid_points",
    "load_sweep_file",
    "plot_detection",
    "plot_risk_speed",
    "rerun",
    "summarize",
    "sweep",
    "sweep_file",
]

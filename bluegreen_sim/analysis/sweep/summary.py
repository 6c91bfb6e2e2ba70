"""What a sweep table says: per-grid-point summaries with intervals, and the detection and
risk-against-speed figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..stats import mean_interval, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure


SUMMARY_METRICS = (
    "requests_failed",
    "excess_failed",
    "time_to_detect_s",
    "deployment_duration_s",
    "peak_tasks",
    "cost_usd",
)


def grid_columns(df: pd.DataFrame) -> list[str]:
    """The columns of a sweep table that hold grid values (the keys of ``overrides``)."""
    keys: set[str] = set()
    if "overrides" in df and len(df):
        for text in df["overrides"].dropna().drop_duplicates():
            keys.update(json.loads(text))
    return [c for c in df.columns if c in keys]


def _rolled_back(df: pd.DataFrame) -> pd.Series:
    return (df["outcome"] == "ROLLED_BACK").where(df["outcome"].notna())


def _detected_early(df: pd.DataFrame) -> pd.Series:
    """Stopped before full traffic (the summary's flag; else rollback before full traffic)."""
    ok = df["error"].isna() if "error" in df else pd.Series(True, index=df.index)
    if "detected_before_full_traffic" in df:
        flag = df["detected_before_full_traffic"].astype("boolean")
    else:
        rb = pd.to_numeric(df["rollback_start_s"], errors="coerce")
        full = pd.to_numeric(df.get("full_traffic_s", pd.Series(np.nan, index=df.index)))
        flag = (rb.notna() & (full.isna() | (rb < full))).astype("boolean")
    return flag.where(ok)


def summarize(df: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Per grid point (or per ``by``): means with 95 % t-intervals, proportions with Wilson's.

    Rows with an ``error`` are left out. Measures: ``requests_failed``, ``excess_failed``,
    ``time_to_detect_s`` (over the runs that detected something), ``deployment_duration_s``,
    ``peak_tasks``, ``cost_usd``; proportions ``rolled_back`` (outcome ROLLED_BACK) and
    ``detected_before_full_traffic``.

    Returns:
        A tidy table indexed by the group columns and ``measure``, with columns ``n``, ``mean``
        (the proportion, for proportions), ``ci_low`` and ``ci_high``.
    """
    keys = grid_columns(df) if by is None else [by] if isinstance(by, str) else list(by)
    rows = []
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    for key, everything in groups:
        key = key if isinstance(key, tuple) else (key,)
        ident = dict(zip(keys, key, strict=True))
        # a grid point whose runs all failed still gets its rows (with n = 0)
        group = everything[everything["error"].isna()] if "error" in df else everything
        for measure in SUMMARY_METRICS:
            if measure not in group:
                continue
            n, mean, lo, hi = mean_interval(group[measure])
            rows.append(
                {**ident, "measure": measure, "n": n, "mean": mean, "ci_low": lo, "ci_high": hi}
            )
        for measure, flags in (
            ("rolled_back", _rolled_back(group)),
            ("detected_before_full_traffic", _detected_early(group)),
        ):
            flags = flags.dropna().astype(bool)
            k, n = int(flags.sum()), len(flags)
            lo, hi = wilson_interval(k, n)
            rows.append(
                {
                    **ident,
                    "measure": measure,
                    "n": n,
                    "mean": k / n if n else math.nan,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    table = pd.DataFrame(rows, columns=[*keys, "measure", "n", "mean", "ci_low", "ci_high"])
    return table.set_index([*keys, "measure"])


def _proportions(df: pd.DataFrame, x: str, by: str | None, flag: pd.Series) -> pd.DataFrame:
    ok = flag.notna()
    data = df.loc[ok, [c for c in (x, by) if c]].copy()
    data["_flag"] = flag[ok].astype(bool).to_numpy()
    keys = [c for c in (by, x) if c]
    rows = []
    for key, g in data.groupby(keys, sort=False, dropna=False):  # grid order
        key = key if isinstance(key, tuple) else (key,)
        k, n = int(g["_flag"].sum()), len(g)
        lo, hi = wilson_interval(k, n)
        rows.append({**dict(zip(keys, key, strict=True)), "p": k / n, "low": lo, "high": hi})
    return pd.DataFrame(rows)


def plot_detection(
    df: pd.DataFrame,
    x: str,
    by: str | None = None,
    *,
    detected: Literal["rolled_back", "detected_before_full_traffic"] = "rolled_back",
    ax=None,
) -> Figure:
    """Detection probability against ``x`` (e.g. ``green.error_rate``), one line per ``by``
    (e.g. ``deployment.config``), with 95 % Wilson intervals as error bars."""
    import matplotlib.pyplot as plt

    ok = df[df["error"].isna()] if "error" in df else df
    flag = _rolled_back(ok) if detected == "rolled_back" else _detected_early(ok)
    table = _proportions(ok, x, by, flag)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    groups = table.groupby(by, sort=False, dropna=False) if by else [(None, table)]
    for name, g in groups:
        g = g.sort_values(x)
        ax.errorbar(
            g[x],
            g["p"],
            yerr=[g["p"] - g["low"], g["high"] - g["p"]],
            marker="o",
            capsize=3,
            label=None if by is None else _label(name),
        )
    ax.set_xlabel(x)
    ax.set_ylabel("rolled back" if detected == "rolled_back" else "detected before full traffic")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    if by is not None:
        ax.legend(title=by, fontsize="small")
    ax.set_title("Detection probability (95 % Wilson intervals)")
    fig.tight_layout()
    return fig


def plot_risk_speed(df: pd.DataFrame, by: str | Sequence[str] | None = None, *, ax=None) -> Figure:
    """Failed requests against deployment duration: one point per grid point (means with 95 %
    t-intervals both ways), coloured by the ``by`` column(s) (e.g. ``deployment.config``)."""
    import matplotlib.pyplot as plt

    by_cols = [by] if isinstance(by, str) else list(by or [])
    table = summarize(df, by=["point", *by_cols])
    wide = table.unstack("measure").reset_index()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    colours: dict[tuple, str] = {}
    for _, row in wide.iterrows():
        x, y = row[("mean", "deployment_duration_s")], row[("mean", "requests_failed")]
        xerr = [
            [x - row[("ci_low", "deployment_duration_s")]],
            [row[("ci_high", "deployment_duration_s")] - x],
        ]
        yerr = [[y - row[("ci_low", "requests_failed")]], [row[("ci_high", "requests_failed")] - y]]
        group = tuple(row[(c, "")] for c in by_cols)
        first = group not in colours
        colours.setdefault(group, f"C{len(colours) % 10}")
        label = ", ".join(_label(g) for g in group) if by_cols and first else None
        ax.errorbar(
            x,
            y,
            xerr=np.nan_to_num(np.asarray(xerr, float)),
            yerr=np.nan_to_num(np.asarray(yerr, float)),
            fmt="o",
            capsize=3,
            color=colours[group],
            label=label,
        )
    ax.set_xlabel("deployment duration (s)")
    ax.set_ylabel("failed requests per run")
    ax.grid(alpha=0.3)
    if by_cols:
        ax.legend(title=", ".join(by_cols), fontsize="small")
    ax.set_title("Risk against speed (means, 95 % intervals)")
    fig.tight_layout()
    return fig


def _label(value: Any) -> str:
    text = str(value)
    return text.removeprefix("CodeDeployDefault.")

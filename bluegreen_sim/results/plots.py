"""Figures: the timeline of one run.

:func:`plot_result` draws one figure of up to five panels that share the time axis: the green
weight, the throughput, the error rate, the p99 latency and the task counts, blue in blue and green
in green throughout. The periods an alarm spent in ALARM are shaded across every panel, and the
deployment's lifecycle events (start, green ready, each production shift, alarm detected,
rollback, the end) are vertical markers labelled above the top panel.

The figure is a :class:`matplotlib.figure.Figure` built directly, not through ``pyplot``: no
global state, no interactive backend, safe in worker processes and on headless machines. Every
panel carries a label (``ax.get_label()``: ``weight``, ``throughput``, ``errors``, ``latency``,
``tasks``), every event marker the label ``event:<kind>`` and every alarm span the label
``alarm:<name>``, so that code (and the tests) can find them without looking at pixels.

What would mislead is left out or marked: the time axis ends shortly after the deployment does
(``full=True`` shows the whole run), a panel with nothing to show is not drawn (no weight panel
without a deployment, no error panel when nothing failed), an error share computed from fewer
than :data:`MIN_SHARE_REQUESTS` requests is drawn as hollow dots, not as a line that reads like
"100 % of users failed", and every kind of line in the legend has a style of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MultipleLocator, NullFormatter

from .plot_marks import (
    ALARM_COLORS,
    EVENT_KINDS,
    STYLE_EVENT,
    STYLE_SHIFT,
    Marker,
    _draw_alarms,
    _draw_markers,
    alarm_spans,
    lifecycle_markers,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .result import Result

COLORS = {"blue": "#1f6fb4", "green": "#2b9a3c"}
PANELS = ("weight", "throughput", "errors", "latency", "tasks")
SMOOTH_S = 10  # default trailing window (s) for error rates and throughput
MIN_SHARE_REQUESTS = 20  # fewer requests in the window: the error share is marked, not drawn
END_MARGIN_S = 120.0  # the time axis runs this far past the deployment's end (at least)
# Line styles: one per kind of thing in the legend (colour says blue or green).
STYLE_HEALTHY, STYLE_RUNNING = "-", "--"


def plot_result(result: Result, *, smooth: float = SMOOTH_S, full: bool = False) -> Figure:
    """One figure of aligned panels over the run, with events and alarms marked.

    Args:
        result: what :func:`~bluegreen_sim.simulate` returned.
        smooth: seconds of the trailing window that pools the error rate (errors / requests)
            and averages the throughput, so that a handful of requests a second reads.
        full: show the whole run; by default the time axis ends shortly after the deployment
            (:func:`plot_end`).

    Returns:
        A :class:`matplotlib.figure.Figure`; save it with ``fig.savefig("run.png")`` (PNG, SVG,
        PDF by the file name). Its axes are labelled ``weight``, ``throughput``, ``errors``,
        ``latency`` and ``tasks``; those with nothing to show are left out (:func:`shown_panels`).
    """
    tl = result.timeline
    summary = result.summary or {}
    t = tl["time_s"].to_numpy(dtype=float)
    end = plot_end(result, full=full)
    revisions = [r for r in ("blue", "green") if _has_revision(tl, r)]
    names = shown_panels(result)
    ratios = {"weight": 0.8, "throughput": 1, "errors": 1, "latency": 1, "tasks": 0.8}

    fig = Figure(figsize=(12, 2.2 + 1.9 * sum(ratios[n] for n in names)), layout="constrained")
    axes = fig.subplots(
        len(names),
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [ratios[n] for n in names]},
    )[:, 0]
    found = {}
    for ax, name in zip(axes, names, strict=True):
        ax.set_label(name)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        found[name] = ax

    if "weight" in found:
        _panel_weight(found["weight"], t, tl)
    _panel_throughput(found["throughput"], t, tl, revisions, smooth)
    few = False
    if "errors" in found:
        few = _panel_errors(found["errors"], t, tl, revisions, smooth)
    _panel_latency(found["latency"], t, tl, revisions, end)
    _panel_tasks(found["tasks"], t, tl, revisions)

    alarm_handles = _draw_alarms(axes, tl)
    markers = [m for m in lifecycle_markers(result.events) if m.time_s <= end]
    _draw_markers(axes, markers, end)
    for ax in axes:
        ax.set_xlim(0, end)
    fig.legend(
        handles=_legend_handles(revisions, alarm_handles, markers, few),
        loc="outside lower center",
        ncols=8,
        fontsize=8.5,
        frameon=False,
    )
    _time_axis(found["tasks"], end)
    title = _title(result, summary)
    duration = getattr(result.scenario, "duration", None)
    if duration and end < float(duration) - 1:
        title += f" · shown to {_clock(end, end)} of {_clock(float(duration), end)}"
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    return fig


def plot_end(result: Result, *, full: bool = False) -> float:
    """Where the time axis ends: shortly after the deployment, or the whole run.

    The deployment's end (or its last lifecycle event, an alarm span's end, whichever is
    later) plus the larger of :data:`END_MARGIN_S` and a fifth of the deployment's length,
    never past the run. Without a deployment, or when it never ended, the whole run.
    """
    tl = result.timeline
    t = tl["time_s"].to_numpy(dtype=float)
    duration = getattr(result.scenario, "duration", None)
    whole = float(duration) if duration else (float(t[-1] + 1) if len(t) else 1.0)
    summary = result.summary or {}
    start, stop = summary.get("deployment_start_s"), summary.get("deployment_end_s")
    if full or start is None or stop is None:
        return whole
    last = max([stop, *(m.time_s for m in lifecycle_markers(result.events))])
    last = max([last, *(e for _, _, e in alarm_spans(tl))])
    margin = max(END_MARGIN_S, 0.2 * (stop - start))
    return min(whole, last + margin)


def shown_panels(result: Result) -> list[str]:
    """The panels with something to show, in the order of :data:`PANELS`.

    No weight panel when nothing was deployed (green's weight is 0 throughout); no error panel
    when no request failed.
    """
    tl = result.timeline
    out = []
    for name in PANELS:
        if name == "weight" and not (tl["green_weight"].fillna(0) > 0).any():
            continue
        if name == "errors" and not any(
            f"errors_{rev}" in tl and (tl[f"errors_{rev}"].fillna(0) > 0).any()
            for rev in ("blue", "green")
        ):
            continue
        out.append(name)
    return out


# -- panels ------------------------------------------------------------------------------------


def _has_revision(tl: pd.DataFrame, rev: str) -> bool:
    cols = [f"requests_{rev}", f"running_{rev}", f"healthy_{rev}"]
    return any(c in tl and (tl[c].fillna(0) > 0).any() for c in cols)


def _panel_weight(ax: Axes, t: np.ndarray, tl: pd.DataFrame) -> None:
    w = tl["green_weight"].to_numpy(dtype=float)
    ax.fill_between(t, w, step="post", color=COLORS["green"], alpha=0.25, linewidth=0)
    ax.step(t, w, where="post", color=COLORS["green"], linewidth=1.6, label="green")
    ax.set_ylim(0, 105)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_ylabel("green weight\n(% of production)")


def _panel_throughput(
    ax: Axes, t: np.ndarray, tl: pd.DataFrame, revisions: list[str], smooth: float
) -> None:
    window = max(1, round(smooth))
    for rev in revisions:
        rps = tl[f"requests_{rev}"].to_numpy(dtype=float)
        ax.plot(t, rps, color=COLORS[rev], linewidth=0.5, alpha=0.35)
        ax.plot(t, _rolling_mean(rps, window), color=COLORS[rev], linewidth=1.5, label=rev)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"requests/s\n(per s; line: {window} s mean)")


def _panel_errors(
    ax: Axes, t: np.ndarray, tl: pd.DataFrame, revisions: list[str], smooth: float
) -> bool:
    """Draw the pooled error shares; True if some were from too few requests to trust."""
    window = max(1, round(smooth))
    top = 0.0
    few_any = False
    for rev in revisions:
        req = tl[f"requests_{rev}"].to_numpy(dtype=float)
        err = tl[f"errors_{rev}"].to_numpy(dtype=float)
        rate = _pooled_rate(err, req, window) * 100.0
        pooled = pd.Series(req).rolling(window, min_periods=1).sum().to_numpy()
        few = (pooled < MIN_SHARE_REQUESTS) & np.isfinite(rate)
        solid = np.where(few, np.nan, rate)
        if np.isfinite(solid).any():
            top = max(top, float(np.nanmax(solid)))
        ax.plot(t, solid, color=COLORS[rev], linewidth=1.4, label=rev)
        if few.any() and (rate[few] > 0).any():
            # A share of a handful of requests (1 of 2 = 50 %) is noise: dots, not a line.
            few_any = True
            top = max(top, float(np.nanmax(rate[few])))  # shown, marked, not hidden
            dots = ax.plot(
                t[few],
                rate[few],
                linestyle="none",
                marker="o",
                markersize=3.5,
                markerfacecolor="none",
                markeredgecolor=COLORS[rev],
                alpha=0.7,
                label=f"few:{rev}",
            )[0]
            dots.set_gid(f"few:{rev}")
    ax.set_ylim(0, max(1.0, top * 1.1))
    ax.set_ylabel(f"5xx share (%)\n({window} s window)")
    return few_any


def _panel_latency(
    ax: Axes, t: np.ndarray, tl: pd.DataFrame, revisions: list[str], end: float
) -> None:
    values = []
    for rev in revisions:
        p99 = tl[f"p99_ms_{rev}"].to_numpy(dtype=float)
        ax.plot(t, p99, color=COLORS[rev], linewidth=0.9, label=rev)
        values.append(p99[np.isfinite(p99) & (p99 > 0) & (t <= end)])
    finite = np.concatenate(values) if values else np.array([])
    if len(finite) and finite.max() / max(finite.min(), 1e-3) > 50:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    elif len(finite):
        ax.set_ylim(0, finite.max() * 1.08)
    ax.set_ylabel("p99 latency (ms)\n(per second)")


def _panel_tasks(ax: Axes, t: np.ndarray, tl: pd.DataFrame, revisions: list[str]) -> None:
    top = 1
    for rev in revisions:
        healthy = tl[f"healthy_{rev}"].to_numpy(dtype=float)
        running = tl[f"running_{rev}"].to_numpy(dtype=float)
        ax.step(t, running, where="post", color=COLORS[rev], linewidth=1.0, linestyle=STYLE_RUNNING)
        ax.step(
            t,
            healthy,
            where="post",
            color=COLORS[rev],
            linewidth=1.6,
            linestyle=STYLE_HEALTHY,
            label=f"{rev}",
        )
        top = max(top, int(np.nanmax(running)), int(np.nanmax(healthy)))
    ax.set_ylim(0, top * 1.15 + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("tasks\n(— healthy, -- running)")


# -- alarms and events ---------------------------------------------------------------------------


def _legend_handles(
    revisions: list[str], alarm_handles: list[Patch], markers: list[Marker], few: bool = False
) -> list:
    handles: list = [
        Line2D([], [], color=COLORS[rev], linewidth=2, label=f"{rev} ({role})")
        for rev, role in (("blue", "original"), ("green", "replacement"))
        if rev in revisions
    ]
    if revisions:
        handles += [
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=1.6,
                linestyle=STYLE_HEALTHY,
                label="healthy tasks",
            ),
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=1.0,
                linestyle=STYLE_RUNNING,
                label="running tasks",
            ),
        ]
    if few:
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                linestyle="none",
                marker="o",
                markersize=4,
                markerfacecolor="none",
                label=f"5xx share of < {MIN_SHARE_REQUESTS} requests (noisy)",
            )
        )
    handles += alarm_handles
    kinds = {m.kind for m in markers}
    if kinds - {"shift"}:
        handles.append(
            Line2D(
                [],
                [],
                color="#444444",
                linestyle=STYLE_EVENT,
                linewidth=0.9,
                label="lifecycle event",
            )
        )
    if "shift" in kinds:
        handles.append(
            Line2D(
                [],
                [],
                color=COLORS["green"],
                linestyle=STYLE_SHIFT,
                linewidth=0.9,
                label="traffic shift",
            )
        )
    return handles


# -- helpers ---------------------------------------------------------------------------------------


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    # Trailing, as a dashboard shows it: nothing appears before it happened.
    return pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()


def _pooled_rate(errors: np.ndarray, requests: np.ndarray, window: int) -> np.ndarray:
    """errors / requests pooled over the trailing window; NaN where no request was served."""
    err = pd.Series(errors).rolling(window, min_periods=1).sum().to_numpy()
    req = pd.Series(requests).rolling(window, min_periods=1).sum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(req > 0, err / np.where(req > 0, req, 1), np.nan)


def _time_axis(ax: Axes, end: float) -> None:
    """Ticks at round minutes (or seconds), labelled m:ss or h:mm:ss."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200):
        if end / step <= 12:
            break
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _clock(x, end)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    unit = "h:mm:ss" if end >= 3600 else "m:ss"
    ax.set_xlabel(f"time since the start of the run ({unit})")


def _clock(seconds: float, end: float) -> str:
    s = round(seconds)
    if end >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _title(result: Result, summary: dict) -> str:
    name = summary.get("scenario") or getattr(result.scenario, "name", "run")
    outcome = summary.get("outcome", "")
    head = f"{name} — {outcome.replace('_', ' ')}" if outcome else str(name)
    bits = []
    if summary.get("controller"):
        bits.append(f"controller {summary['controller']}")
    if summary.get("seed") is not None:
        bits.append(f"seed {summary['seed']}")
    if summary.get("requests_total") is not None:
        bits.append(
            f"{summary.get('requests_failed', 0):,} of {summary['requests_total']:,} "
            "requests failed"
        )
    if summary.get("time_to_detect_s") is not None:
        bits.append(f"detected after {summary['time_to_detect_s']:.0f} s")
    if summary.get("alarms_fired"):
        bits.append("alarms: " + ", ".join(summary["alarms_fired"]))
    return head + ("\n" + " · ".join(bits) if bits else "")


__all__ = [
    "ALARM_COLORS",
    "EVENT_KINDS",
    "MIN_SHARE_REQUESTS",
    "Marker",
    "alarm_spans",
    "lifecycle_markers",
    "plot_end",
    "plot_result",
    "shown_panels",
]

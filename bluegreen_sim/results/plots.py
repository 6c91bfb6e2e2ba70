"""Figures: the timeline of one run.

:func:`plot_result` draws one figure of five panels that share the time axis: the green weight,
the throughput, the error rate, the p99 latency and the task counts, blue in blue and green in
green throughout. The periods an alarm spent in ALARM are shaded across every panel, and the
deployment's lifecycle events (start, green ready, each production shift, alarm detected,
rollback, the end) are vertical markers labelled above the top panel.

The figure is a :class:`matplotlib.figure.Figure` built directly, not through ``pyplot``: no
global state, no interactive backend, safe in worker processes and on headless machines. Every
panel carries a label (``ax.get_label()``: ``weight``, ``throughput``, ``errors``, ``latency``,
``tasks``), every event marker the label ``event:<kind>`` and every alarm span the label
``alarm:<name>``, so that code (and the tests) can find them without looking at pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MultipleLocator, NullFormatter
from matplotlib.transforms import offset_copy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .result import Result

COLORS = {"blue": "#1f6fb4", "green": "#2b9a3c"}
ALARM_COLORS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
PANELS = ("weight", "throughput", "errors", "latency", "tasks")
SMOOTH_S = 10  # default trailing window (s) for error rates and throughput

# Lifecycle events worth a marker, matched by keywords (case-insensitive) so that every
# controller's wording is found: (kind, pattern on the event name, short label, colour).
# The first matching pattern wins; an event that matches none gets no marker.
_NOT_PART = r"(?<![a-z_])"  # SCALE_UP must not match PRE_SCALE_UP / POST_SCALE_UP
EVENT_KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("deployment_started", r"^deployment (started|created|initiated)", "start", "#444444"),
    (
        "green_ready",
        r"green (healthy|ready|steady)|(?<![a-z])install succeeded|"
        + _NOT_PART
        + r"scale_up (succeeded|completed)",
        "green ready",
        "#2b9a3c",
    ),
    (
        "test_traffic",
        r"test traffic routed|" + _NOT_PART + r"test_traffic_shift (succeeded|completed)",
        "test traffic",
        "#17becf",
    ),
    ("shift", r"production traffic shifted", "", "#2b9a3c"),
    ("fault", r"^fault started", "fault", "#9467bd"),
    # A lifecycle event, stage or hook that failed or timed out ("AfterAllowTestTraffic failed").
    ("step_failed", r"^(?!deployment )\S+ (failed|timedout|timed out)$", "", "#d62728"),
    ("circuit_breaker", r"circuit breaker (tripped|triggered|fired)", "circuit breaker", "#d62728"),
    ("alarm_detected", r"alarm detected|alarm.*tripped", "alarm detected", "#d62728"),
    ("rollback", r"rollback started|rolling back", "rollback", "#d62728"),
    ("termination_wait", r"termination wait", "termination wait", "#444444"),
    ("bake", r"bake_time started|bake time started", "bake", "#444444"),
    (
        "blue_removed",
        r"blue task set (removed|terminated)|(original|blue).*(removed|terminated)|"
        + _NOT_PART
        + r"clean_up started",
        "blue removed",
        "#1f6fb4",
    ),
    (
        "deployment_end",
        r"^deployment (succeeded|rolled.?back|failed|stopped)",
        "",
        "#444444",
    ),
)
_COMPILED = tuple((k, re.compile(p, re.IGNORECASE), lab, c) for k, p, lab, c in EVENT_KINDS)
_PERCENT = re.compile(r"green\s+(\d+(?:\.\d+)?)\s*%")


@dataclass
class Marker:
    """One lifecycle event to mark: when, what kind, and its short label."""

    time_s: float
    kind: str
    text: str
    color: str


def lifecycle_markers(events: pd.DataFrame) -> list[Marker]:
    """The events of ``result.events`` that get a marker, in time order.

    Matching is by keywords on the event name, so it holds for the steps, CodeDeploy and ECS
    controllers alike. A production shift is labelled with its new weight; the shift back to 0 %
    of a rollback is left to the rollback marker. Only the last end of the deployment is kept
    (stopping without rollback logs "stopped" and then the outcome).
    """
    markers: list[Marker] = []
    if events is None or events.empty:
        return markers
    for row in events.itertuples(index=False):
        name = str(row.event)
        detail = "" if pd.isna(row.detail) else str(row.detail)
        for kind, pattern, label, color in _COMPILED:
            if not pattern.search(name):
                continue
            text = label
            if kind == "shift":
                if "rollback" in detail.lower():
                    break
                m = _PERCENT.search(detail)
                text = f"→{float(m.group(1)):g}%" if m else "shift"
            elif kind == "step_failed":
                text = name.replace("timedout", "timed out")
            elif kind == "deployment_end":
                outcome = name.split(" ", 1)[1].replace("_", " ").lower()
                text = outcome
                color = "#2b9a3c" if outcome == "succeeded" else "#d62728"
            markers.append(Marker(float(row.time_s), kind, text, color))
            break
    ends = [m for m in markers if m.kind == "deployment_end"]
    if len(ends) > 1:
        markers = [m for m in markers if m.kind != "deployment_end" or m is ends[-1]]
    # Several markers of one kind at the same instant (three tasks becoming healthy) are one.
    seen: set[tuple[float, str, str]] = set()
    unique = []
    for m in sorted(markers, key=lambda m: m.time_s):
        key = (round(m.time_s, 3), m.kind, m.text)
        if key not in seen:
            seen.add(key)
            unique.append(m)
    return unique


def alarm_spans(timeline: pd.DataFrame) -> list[tuple[str, float, float]]:
    """``(alarm name, start_s, end_s)`` for every stretch an alarm spent in ALARM."""
    spans = []
    t = timeline["time_s"].to_numpy(dtype=float)
    if not len(t):
        return spans
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    for col in timeline.columns:
        if not col.startswith("alarm_"):
            continue
        in_alarm = (timeline[col] == "ALARM").to_numpy()
        if not in_alarm.any():
            continue
        edges = np.diff(np.concatenate(([0], in_alarm.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for s, e in zip(starts, ends, strict=True):
            spans.append((col[len("alarm_") :], t[s], t[e - 1] + step))
    return spans


def plot_result(result: Result, *, smooth: float = SMOOTH_S) -> Figure:
    """One figure of five aligned panels over the run, with events and alarms marked.

    Args:
        result: what :func:`~bluegreen_sim.simulate` returned.
        smooth: seconds of the trailing window that pools the error rate (errors / requests)
            and averages the throughput, so that a handful of requests a second reads.

    Returns:
        A :class:`matplotlib.figure.Figure`; save it with ``fig.savefig("run.png")`` (PNG, SVG,
        PDF by the file name). Its axes are labelled ``weight``, ``throughput``, ``errors``,
        ``latency`` and ``tasks``.
    """
    tl = result.timeline
    summary = result.summary or {}
    t = tl["time_s"].to_numpy(dtype=float)
    duration = getattr(result.scenario, "duration", None)
    end = float(duration) if duration else (float(t[-1] + 1) if len(t) else 1.0)
    revisions = [r for r in ("blue", "green") if _has_revision(tl, r)]

    fig = Figure(figsize=(12, 11), layout="constrained")
    axes = fig.subplots(
        len(PANELS), 1, sharex=True, gridspec_kw={"height_ratios": [0.8, 1, 1, 1, 0.8]}
    )
    for ax, name in zip(axes, PANELS, strict=True):
        ax.set_label(name)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax_w, ax_rps, ax_err, ax_lat, ax_tasks = axes

    _panel_weight(ax_w, t, tl)
    _panel_throughput(ax_rps, t, tl, revisions, smooth)
    _panel_errors(ax_err, t, tl, revisions, smooth)
    _panel_latency(ax_lat, t, tl, revisions)
    _panel_tasks(ax_tasks, t, tl, revisions)

    alarm_handles = _draw_alarms(axes, tl)
    markers = lifecycle_markers(result.events)
    _draw_markers(axes, markers, end)
    for ax in axes:
        ax.set_xlim(0, end)
    fig.legend(
        handles=_legend_handles(revisions, alarm_handles, markers),
        loc="outside lower center",
        ncols=8,
        fontsize=8.5,
        frameon=False,
    )
    _time_axis(ax_tasks, end)
    fig.suptitle(_title(result, summary), fontsize=12, x=0.01, ha="left")
    return fig


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
) -> None:
    window = max(1, round(smooth))
    top = 0.0
    for rev in revisions:
        req = tl[f"requests_{rev}"].to_numpy(dtype=float)
        err = tl[f"errors_{rev}"].to_numpy(dtype=float)
        rate = _pooled_rate(err, req, window) * 100.0
        if np.isfinite(rate).any():
            top = max(top, float(np.nanmax(rate)))
        ax.plot(t, rate, color=COLORS[rev], linewidth=1.4, label=rev)
    ax.set_ylim(0, max(1.0, top * 1.1))
    ax.set_ylabel(f"5xx share (%)\n({window} s window)")


def _panel_latency(ax: Axes, t: np.ndarray, tl: pd.DataFrame, revisions: list[str]) -> None:
    values = []
    for rev in revisions:
        p99 = tl[f"p99_ms_{rev}"].to_numpy(dtype=float)
        ax.plot(t, p99, color=COLORS[rev], linewidth=0.9, label=rev)
        values.append(p99[np.isfinite(p99) & (p99 > 0)])
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
        ax.step(t, running, where="post", color=COLORS[rev], linewidth=1.0, linestyle="--")
        ax.step(t, healthy, where="post", color=COLORS[rev], linewidth=1.6, label=f"{rev}")
        top = max(top, int(np.nanmax(running)), int(np.nanmax(healthy)))
    ax.set_ylim(0, top * 1.15 + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("tasks\n(— healthy, -- running)")


# -- alarms and events ---------------------------------------------------------------------------


def _draw_alarms(axes, tl: pd.DataFrame) -> list[Patch]:
    handles = []
    names: list[str] = []
    for name, start, stop in alarm_spans(tl):
        if name not in names:
            names.append(name)
        color = ALARM_COLORS[names.index(name) % len(ALARM_COLORS)]
        for ax in axes:
            ax.axvspan(
                start, stop, color=color, alpha=0.12, linewidth=0, label=f"alarm:{name}", zorder=0
            )
    for i, name in enumerate(names):
        color = ALARM_COLORS[i % len(ALARM_COLORS)]
        handles.append(Patch(color=color, alpha=0.25, label=f"{name} in ALARM"))
    # The spans carry 'alarm:<name>' labels for code; the legend shows the handles above.
    return handles


def _draw_markers(axes, markers: list[Marker], end: float) -> None:
    if not markers:
        return
    for m in markers:
        style = ":" if m.kind == "shift" else "--"
        for ax in axes:
            line = ax.axvline(
                m.time_s, color=m.color, linestyle=style, linewidth=0.9, alpha=0.8, zorder=1
            )
            line.set_label(f"event:{m.kind}")
            line.set_gid(f"event:{m.kind}")
    # Labels above the top panel, horizontal, in as many rows as it takes not to overlap;
    # events at (nearly) the same instant share one label.
    top = axes[0]
    fontsize = 7.5
    width_in = top.figure.get_figwidth() * 0.86  # the panels' width, near enough
    groups: list[list[Marker]] = []
    for m in markers:
        if groups and m.time_s - groups[-1][0].time_s < end * 0.004:
            groups[-1].append(m)
        else:
            groups.append([m])
    lanes: list[float] = []  # right edge (axes fraction) of the last label in each row
    for group in groups:
        texts: list[str] = []
        for m in group:
            if m.text and m.text not in texts:
                texts.append(m.text)
        if "rolled back" in texts and "rollback" in texts:
            texts.remove("rollback")  # the same instant, said once
        text = ", ".join(texts)
        if not text:
            continue
        x = group[0].time_s / end
        width = (len(text) * fontsize * 0.52 + 6) / 72 / width_in
        left_aligned = x + width <= 1.02
        x0, x1 = (x, x + width) if left_aligned else (x - width, x)
        lane = next((i for i, edge in enumerate(lanes) if edge < x0), len(lanes))
        if lane == len(lanes):
            lanes.append(x1)
        else:
            lanes[lane] = x1
        color = next((m.color for m in group if m.color == "#d62728"), group[0].color)
        top.text(
            group[0].time_s,
            1.0,
            text,
            transform=offset_copy(
                top.get_xaxis_transform(), fig=top.figure, x=0, y=3 + 11 * lane, units="points"
            ),
            ha="left" if left_aligned else "right",
            va="bottom",
            fontsize=fontsize,
            color=color,
            clip_on=False,
        )


def _legend_handles(
    revisions: list[str], alarm_handles: list[Patch], markers: list[Marker]
) -> list:
    handles: list = [
        Line2D([], [], color=COLORS[rev], linewidth=2, label=f"{rev} ({role})")
        for rev, role in (("blue", "original"), ("green", "replacement"))
        if rev in revisions
    ]
    if revisions:
        handles += [
            Line2D([], [], color="#555555", linewidth=1.6, label="healthy tasks"),
            Line2D([], [], color="#555555", linewidth=1.0, linestyle="--", label="running tasks"),
        ]
    handles += alarm_handles
    kinds = {m.kind for m in markers}
    if kinds - {"shift"}:
        handles.append(
            Line2D([], [], color="#444444", linestyle="--", linewidth=0.9, label="lifecycle event")
        )
    if "shift" in kinds:
        handles.append(
            Line2D(
                [], [], color=COLORS["green"], linestyle=":", linewidth=0.9, label="traffic shift"
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


__all__ = ["EVENT_KINDS", "Marker", "alarm_spans", "lifecycle_markers", "plot_result"]

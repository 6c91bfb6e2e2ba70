"""What a timeline figure marks: the deployment's lifecycle events and the alarms' ALARM spans.

:func:`lifecycle_markers` picks, by keywords on the event names (so every controller's wording
is found), the events worth a vertical line; :func:`alarm_spans` finds the stretches an alarm
spent in ALARM. ``_draw_markers`` and ``_draw_alarms`` put them on every panel of a figure,
labelled ``event:<kind>`` and ``alarm:<name>`` so code can find them without pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

ALARM_COLORS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
STYLE_EVENT, STYLE_SHIFT = "-.", ":"  # a lifecycle event's line, a traffic shift's line


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
        style = STYLE_SHIFT if m.kind == "shift" else STYLE_EVENT
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

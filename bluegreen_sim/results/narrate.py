"""The narrated run: a run's event log told step by step, as a lesson would tell it.

The events DataFrame of a :class:`~bluegreen_sim.results.Result` holds one row per task start,
health check transition and target deregistration: ten tasks make forty rows. A student wants
the story instead: *green: 10/10 tasks running*, *production traffic shifted: green 10 %*,
*alarm green-5xx OK → ALARM*, *rollback started*. :func:`narrate` keeps every lifecycle event
(controller, hooks, traffic shifts, alarms, faults) on a line of its own and folds the per-task
events of one revision into one line per burst, with counts against the desired task count.

Each line reads ``time  source  what happened``: the source column says which AWS service acted
(``ecs``, ``alb``, ``cloudwatch``, a hook, a fault or the deployment controller), so the reader
learns who does what. Times are ``mm:ss`` from the start of the simulation (``h:mm:ss`` for
runs of an hour or more).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pandas as pd

from .capacity import Overload, capacity_lines, offered_utilisation, overload_spans
from .folding import (
    _BREAKER_EVENTS,
    _BURST_GAP_S,
    _TASK_EVENTS,
    _Burst,
    _burst_line,
    _Fleet,
    _is_failure,
    _Line,
    _task_of,
)
from .lifecycle import _event_line
from .summary_table import summary_table
from .text import first_line, format_clock, format_duration
from .text import paint as _paint

__all__ = ["first_line", "format_clock", "format_duration", "narrate", "summary_table"]


def narrate(result: Any, color: bool = False) -> str:
    """The run told step by step, then the summary table.

    Args:
        result: a :class:`~bluegreen_sim.results.Result`.
        color: paint lifecycle lines with ANSI colours (for a terminal).

    Returns:
        Text with one line per lifecycle event or burst of task events, ending with
        :func:`summary_table`.
    """
    events: pd.DataFrame = result.events
    summary = result.summary
    scenario = getattr(result, "scenario", None)
    duration = float(scenario.duration) if scenario is not None else 0.0
    end = max(duration, float(events["time_s"].max()) if len(events) else 0.0)
    hours = end >= 3600
    desired: dict[str, int] = {}
    if scenario is not None:
        desired = {rev: scenario.revision(rev).tasks for rev in ("blue", "green")}
    fleet = _Fleet(desired)
    # Blue's tasks run and are healthy from the start (they log no start-up): count them, so a
    # rolling update's "blue: 1 task stopped; 7/8 running" is told right.
    for number in range(1, desired.get("blue", 0) + 1):
        fleet.apply("running", "blue", f"blue-{number}")
        fleet.apply("healthy", "blue", f"blue-{number}")
    # Tasks of a revision that are started last: after that, "all stopped" means terminated.
    last_start: dict[str, float] = {}
    for row in events.itertuples(index=False):
        if (row.source, row.event) == ("ecs", "task provisioning"):
            last_start[_task_of(row.detail)[1]] = float(row.time_s)

    lines: list[_Line] = []
    pending: dict[tuple[str, str], _Burst] = {}

    def close(keys: list[tuple[str, str]]) -> None:
        for key in sorted(keys, key=lambda k: (pending[k].last, pending[k].first)):
            b = pending.pop(key)
            terminated = (
                b.kind == "stopped"
                and b.counts.get("alive", 1) == 0
                and b.last >= last_start.get(b.revision, -1.0)
            )
            line = _burst_line(b, fleet, terminated, hours)
            if line is not None:
                lines.append(line)

    for row in events.itertuples(index=False):
        t, source, event = float(row.time_s), str(row.source), str(row.event)
        kind = _TASK_EVENTS.get((source, event))
        stale = [k for k, b in pending.items() if t - b.last > _BURST_GAP_S]
        if stale:
            close(stale)
        if event in _BREAKER_EVENTS:
            b = pending.setdefault(("breaker", source), _Burst("breaker", source, t, t))
            b.last = t
            b.tasks.append("")
            b.details.append(f"{event.rpartition(' ')[2]}|{row.detail}")
            continue
        if kind is not None:
            task, revision, rest = _task_of(row.detail)
            if kind == "draining":
                rest = str(row.detail).partition("(")[2].rstrip(")")
            key = (kind, revision)
            if ("churn", revision) in pending:
                key = ("churn", revision)  # the replacements of failed tasks belong to it
            elif kind == "unhealthy" or (kind == "stopped" and _is_failure(rest)):
                key = ("churn", revision)
            if key not in pending:
                # Tell what was under way for this revision before the tasks fail or leave.
                if kind in ("stopped", "draining", "unhealthy"):
                    close([k for k in pending if k[1] == revision and k[0] != key[0]])
                pending[key] = _Burst(key[0], revision, t, t)
            b = pending[key]
            b.last = t
            b.tasks.append(task)
            b.details.append(rest)
            b.kinds.append(kind)
            fleet.apply(kind, revision, task)
            b.counts = fleet.counts(revision)
            continue
        line = _event_line(t, source, event, row.detail)
        if line is None:
            continue
        close(list(pending))
        line.event = event
        prev = lines[-1] if lines else None
        if (
            prev is not None
            and prev.source == source
            and event.endswith(" succeeded")
            and prev.event == event[: -len(" succeeded")] + " started"
            and not prev.detail
            and line.time - prev.time < 1.0
        ):
            lines[-1] = line  # "X started" then at once "X succeeded": one line says both
        else:
            lines.append(line)
    close(list(pending))
    overloads = _overloads(result)
    for o in overloads:
        lines.append(_overload_line(o, hours))

    lines.sort(key=lambda line: line.time)  # stable: same-time lines keep their order
    out = [_header(result, color, hours)]
    width = max([len(line.source) for line in lines] + [6])
    for line in lines:
        clock = format_clock(line.time, hours)
        text = f"{clock}  {line.source:<{width}}  {line.text}"
        out.append(_paint(text, line.style, color))
    if duration:
        out.append(
            _paint(f"{format_clock(duration, hours)}  {'':<{width}}  end of run", "dim", color)
        )
    if scenario is not None and scenario.alarms and not scenario.cloudwatch.publish_delay:
        out.append(_paint(PUBLISH_DELAY_NOTE, "dim", color))
    out.append("")
    extra = []
    if overloads:
        spans = "; ".join(
            f"{o.revision} {format_clock(o.start_s, hours)}–{format_clock(o.end_s, hours)} "
            f"(up to {o.peak:.1f}× capacity)"
            for o in overloads
        )
        extra.append(("overloaded", spans))
    out.append(summary_table(summary, color, extra))
    return "\n".join(out)


def _overloads(result: Any) -> list[Overload]:
    try:
        return overload_spans(result)
    except Exception:  # a hand-made Result without a scenario's timeline: nothing to say
        return []


def _overload_line(o: Overload, hours: bool) -> _Line:
    return _Line(
        o.start_s,
        "load",
        f"{o.revision}: overloaded until {format_clock(o.end_s, hours)}: offered up to "
        f"{o.peak:.1f}× the work its running tasks × concurrency can do; queues grow without "
        "bound (see service.concurrency in the scenario reference)",
        "bad",
    )


def _header(result: Any, color: bool, hours: bool) -> str:
    s = result.summary
    scenario = getattr(result, "scenario", None)
    overrides = s.get("overrides") or []
    parts = [f"controller {s.get('controller', '?')}", f"seed {s.get('seed')}"]
    if scenario is not None:
        parts.append(f"duration {format_duration(scenario.duration)}")
    head = _paint(f"Scenario {s.get('scenario')}", "head", color) + f" ({', '.join(parts)})"
    description = getattr(scenario, "description", "") if scenario is not None else ""
    first = first_line(description)
    text = head + (f"\n{first}" if first else "")
    if overrides:
        # the description was written for the file as it is: say what was changed since
        text += "\nwith overrides: " + ", ".join(overrides)
    if scenario is not None:
        # a scenario whose figures cannot be read (a CSV gone since the run) gets no block
        with contextlib.suppress(Exception):
            text += "\n" + "\n".join(capacity_lines(offered_utilisation(scenario)))
    return text + "\n"


# AWS does not publish how long ALB metrics take to reach CloudWatch (docs/semantics.md §4).
PUBLISH_DELAY_NOTE = (
    "note: this run assumes ALB metrics reach CloudWatch at once (cloudwatch.publish_delay 0);"
    " real alarms see them later, so detection times here are a lower bound"
)

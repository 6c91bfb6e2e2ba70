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

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["format_clock", "format_duration", "narrate", "summary_table"]

# Per-task events folded into one line per revision and burst.
_TASK_EVENTS = {
    ("ecs", "task provisioning"): "provisioning",
    ("ecs", "task running"): "running",
    ("ecs", "task stopped"): "stopped",
    ("alb", "target registered"): "registered",
    ("alb", "target healthy"): "healthy",
    ("alb", "target unhealthy"): "unhealthy",
    ("alb", "target draining"): "draining",
    ("alb", "target deregistered"): "deregistered",
    ("clients", "connections dropped"): "dropped",  # long-lived connections (issue 15)
}
# Frequent controller bookkeeping, folded the same way (source: the controller).
_BREAKER_EVENTS = ("circuit breaker count", "circuit breaker reset")
# A burst ends when a lifecycle event is told, or after this long without a similar event.
_BURST_GAP_S = 60.0
# The controller restates what the folded task lines already said.
_REDUNDANT = {"green tasks running"}

_COMPARISON = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_ALARM_DETAIL = re.compile(
    r"^(?P<name>.+?): (?P<old>\w+) → (?P<new>\w+); datapoints \[(?P<points>[^\]]*)\] "
    r"vs (?P<cmp>\w+) (?P<threshold>\S+)$"
)

_STYLE = {"bad": "1;31", "good": "1;32", "shift": "1;33", "fault": "35", "dim": "2", "head": "1"}


def _paint(text: str, style: str | None, color: bool) -> str:
    if not color or style is None or style not in _STYLE:
        return text
    return f"\x1b[{_STYLE[style]}m{text}\x1b[0m"


def format_clock(seconds: float, hours: bool = False) -> str:
    """``mm:ss`` (or ``h:mm:ss`` when ``hours``) for a time from the start of the run."""
    s = int(math.floor(seconds + 1e-9))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if hours:
        return f"{h}:{m:02d}:{sec:02d}"
    return f"{m + 60 * h:02d}:{sec:02d}"


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``45s``, ``3m20s``, ``1h05m``; ``-`` for None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, sec = divmod(s, 60)
    if m < 60:
        return f"{m}m" if sec == 0 else f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h" if m == 0 and sec == 0 else f"{h}h{m:02d}m"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------------------------
# Folding per-task events


@dataclass
class _Burst:
    """Per-task events of one kind and one revision, close together in time."""

    kind: str
    revision: str
    first: float
    last: float
    tasks: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    # The revision's counts right after the burst's last event (told as of then).
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Line:
    time: float
    source: str
    text: str
    style: str | None = None
    event: str = ""
    detail: str = ""


class _Fleet:
    """What the folded lines count: tasks alive, running and healthy, per revision."""

    def __init__(self, desired: dict[str, int]):
        self.desired = desired
        self.alive: dict[str, set[str]] = {}
        self.running: dict[str, set[str]] = {}
        self.healthy: dict[str, set[str]] = {}

    def apply(self, kind: str, revision: str, task: str) -> None:
        alive = self.alive.setdefault(revision, set())
        running = self.running.setdefault(revision, set())
        healthy = self.healthy.setdefault(revision, set())
        if kind == "provisioning":
            alive.add(task)
        elif kind == "running":
            alive.add(task)
            running.add(task)
        elif kind == "healthy":
            healthy.add(task)
        elif kind in ("unhealthy", "draining"):
            healthy.discard(task)
        elif kind == "stopped":
            alive.discard(task)
            running.discard(task)
            healthy.discard(task)

    def counts(self, revision: str) -> dict[str, int]:
        return {
            what: len(getattr(self, what).get(revision, ()))
            for what in ("alive", "running", "healthy")
        }

    def of(self, n: int, revision: str) -> str:
        want = self.desired.get(revision)
        return f"{n}/{want}" if want else str(n)


def _task_of(detail: str) -> tuple[str, str, str]:
    """(task name, revision, the rest of the detail) of a per-task event."""
    name, _, rest = str(detail).partition(":")
    name = name.split(" ")[0].strip()
    revision = name.rsplit("-", 1)[0] if "-" in name else name
    return name, revision, rest.strip()


def _distinct(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return out


def _burst_line(b: _Burst, fleet: _Fleet, terminated: bool, hours: bool) -> _Line | None:
    n = len(b.tasks)
    rev = b.revision
    running, healthy = b.counts.get("running", 0), b.counts.get("healthy", 0)
    details = b.details
    if b.kind == "stopped":
        # "crashed (fault #1 crash on green)" reads better without nested brackets.
        details = [re.sub(r" \((.*)\)$", r": \1", d) for d in details]
    reasons = _distinct(details)
    reason = reasons[0] if reasons else ""
    if len(reasons) > 1:
        reason += f"; +{len(reasons) - 1} other reasons"
    span = ""
    if b.last - b.first >= 1.0:
        span = f", {format_clock(b.first, hours)}–{format_clock(b.last, hours)}"
    at, style, source = b.last, "dim", "ecs"
    if b.kind == "provisioning":
        secs = sorted(float(m) for d in b.details if (m := _number(d)) is not None)
        startup = ""
        if secs:
            lo, hi = secs[0], secs[-1]
            startup = f"start-up {lo:.0f}s" if lo == hi else f"start-up {lo:.0f}–{hi:.0f}s"
        text = f"{rev}: {_plural(n, 'task')} provisioning" + (f" ({startup})" if startup else "")
        at = b.first
    elif b.kind == "running":
        now = fleet.of(running, rev)
        started = f"{_plural(n, 'task')} started, " if n != running else ""
        text = f"{rev}: {started}{now} tasks running, registered with the target group{span}"
    elif b.kind == "healthy":
        source = "alb"
        now = fleet.of(healthy, rev)
        became = f"{n} became healthy, " if n != healthy else ""
        text = f"{rev}: {became}{now} targets healthy ({reason}){span}"
    elif b.kind == "draining":
        source = "alb"
        text = f"{rev}: {_plural(n, 'target')} draining ({reason})"
        at = b.first
    elif b.kind == "churn":
        source, style, at = "ecs", "bad", b.first
        text = (
            f"{rev}: {_churn_text(b)}{span}; now {fleet.of(running, rev)} running, "
            f"{fleet.of(healthy, rev)} healthy"
        )
    elif b.kind == "dropped":
        source, at = "clients", b.first
        dropped = sum(int(m.group()) for d in b.details if (m := re.match(r"\d+", d)))
        how = str(b.details[0]).partition("; ")[2]  # the counts differ, the policy does not
        text = (
            f"{rev}: {_plural(dropped, 'long-lived connection')} dropped with "
            f"{_plural(n, 'task')}{span}" + (f"; {how}" if how else "")
        )
    elif b.kind == "breaker":
        source, style = rev, "dim"
        counted = sum(1 for d in b.details if d.startswith("count|"))
        resets = len(b.details) - counted
        last = b.details[-1].partition("|")[2]
        if len(b.details) == 1:
            text = ("circuit breaker count: " if counted else "circuit breaker reset: ") + last
        else:
            now = (
                last.rpartition(": ")[2] if counted and b.details[-1].startswith("count|") else "0"
            )
            text = (
                f"circuit breaker: {_plural(counted, 'failed task')} counted, "
                f"{_plural(resets, 'reset')} by a healthy task; count now {now}{span}"
            )
    elif b.kind == "stopped":
        # Failed tasks are told as churn; these were stopped on purpose (rollback, clean-up).
        text = f"{rev}: {_plural(n, 'task')} stopped ({reason}){span}"
        if terminated:
            ended = "terminated" if rev == "blue" else "removed"
            if not any(word in reason for word in ("terminated", "removed")):
                text += f"; the {rev} task set is {ended}"
            style = "good" if rev == "blue" else "dim"
        else:
            text += f"; {fleet.of(running, rev)} running"
    else:
        return None
    return _Line(at, source, text, style)


def _is_failure(reason: str) -> bool:
    return reason.startswith(("crash", "unhealthy", "essential"))


def _churn_text(b: _Burst) -> str:
    """Tasks failing and ECS replacing them, told as one story."""
    by_kind: dict[str, list[str]] = {}
    for kind, detail in zip(b.kinds, b.details, strict=True):
        by_kind.setdefault(kind, []).append(detail)
    parts = []
    if "unhealthy" in by_kind:
        why = _distinct(by_kind["unhealthy"])
        parts.append(
            f"{_plural(len(by_kind['unhealthy']), 'target')} failed health checks ({why[0]})"
        )
    if "stopped" in by_kind:
        why = _distinct(re.sub(r" \((.*)\)$", r": \1", d) for d in by_kind["stopped"])
        more = f"; +{len(why) - 1} other reasons" if len(why) > 1 else ""
        parts.append(f"{_plural(len(by_kind['stopped']), 'task')} stopped ({why[0]}{more})")
    if "provisioning" in by_kind:
        parts.append(f"ECS started {_plural(len(by_kind['provisioning']), 'replacement')}")
    return "; ".join(parts)


def _number(text: str) -> float | None:
    m = re.search(r"(\d+(?:\.\d+)?)s", text)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------
# Lifecycle events


def _event_line(t: float, source: str, event: str, detail: Any) -> _Line | None:
    detail = "" if detail is None or (isinstance(detail, float) and math.isnan(detail)) else detail
    detail = str(detail)
    with_detail = f": {detail}" if detail else ""
    if source == "alb" and event == "production traffic shifted":
        m = re.search(r"green (\d+(?:\.\d+)?)%", detail)
        bar = ""
        if m:
            filled = int(round(float(m.group(1)) / 10))
            bar = "  [" + "#" * filled + "." * (10 - filled) + "]"
        return _Line(t, source, f"production traffic shifted: {detail}{bar}", "shift")
    if source == "cloudwatch" and event.startswith("alarm "):
        m = _ALARM_DETAIL.match(detail)
        if not m:
            return _Line(t, source, f"{event}{with_detail}", "bad" if "ALARM" in event else None)
        new = m["new"]
        cmp = _COMPARISON.get(m["cmp"], m["cmp"])
        text = f"alarm {m['name']}: {m['old']} → {new}"
        if new == "ALARM":
            text += f" (datapoints [{m['points']}] vs {cmp} {m['threshold']}; - = no datapoint)"
            return _Line(t, source, text, "bad")
        if m["old"] == "ALARM":
            return _Line(t, source, text + f" (datapoints [{m['points']}])", "good")
        return _Line(t, source, text, "dim")
    if source == "hook":
        name, _, status = event.rpartition(" ")
        if status == "started":
            return _Line(t, source, f"{name} hook started ({detail or 'hook'})", detail=detail)
        style = "good" if status == "succeeded" else "bad"
        status = {"timedout": "timed out"}.get(status, status)
        return _Line(t, source, f"{name} hook {status}{with_detail}", style)
    if source == "fault":
        return _Line(t, source, f"{event}: {detail}" if detail else event, "fault")
    # The deployment controller (codedeploy, ecs, steps, ...) and anything else.
    if event in _REDUNDANT:
        return None
    style: str | None = None
    text = f"{event}{with_detail}"
    if event.startswith("deployment ") and event != "deployment started":
        outcome = event[len("deployment ") :]
        shown = outcome.upper().replace(" ", "_")  # the outcome as the summary names it
        style = "good" if outcome == "succeeded" else "bad"
        text = f"deployment {shown}" + (f" ({detail})" if detail else "")
    elif event.startswith(("rollback", "alarm detected")) or event.endswith(
        ("failed", "timed out", "stopped")
    ):
        style = "bad"
    elif event.endswith("succeeded"):
        style = "good"
    elif event in ("deployment started", "green task set created"):
        style = "head"
    return _Line(t, source, text, style, detail=detail)


# --------------------------------------------------------------------------------------------
# The whole story


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
    # rolling update's "blue: 1 task stopped; 7/8 running" is told right (issue 15).
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
    out.append(summary_table(summary, color))
    return "\n".join(out)


# AWS does not publish how long ALB metrics take to reach CloudWatch (docs/semantics.md §4).
PUBLISH_DELAY_NOTE = (
    "note: this run assumes ALB metrics reach CloudWatch at once (cloudwatch.publish_delay 0);"
    " real alarms see them later, so detection times here are a lower bound"
)


def _header(result: Any, color: bool, hours: bool) -> str:
    s = result.summary
    scenario = getattr(result, "scenario", None)
    parts = [f"controller {s.get('controller', '?')}", f"seed {s.get('seed')}"]
    if scenario is not None:
        parts.append(f"duration {format_duration(scenario.duration)}")
    head = _paint(f"Scenario {s.get('scenario')}", "head", color) + f" ({', '.join(parts)})"
    description = getattr(scenario, "description", "") if scenario is not None else ""
    first = first_line(description)
    return head + (f"\n{first}" if first else "") + "\n"


def first_line(text: str | None, limit: int = 100) -> str:
    """The first line of a description, cut to its first sentence if it is long."""
    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    if len(line) > limit:
        stop = line.find(". ")
        if 0 < stop < limit:
            return line[: stop + 1]
        cut = line[:limit].rsplit(" ", 1)[0]
        return cut + " …"
    return line


# --------------------------------------------------------------------------------------------
# The summary table


def _num(value: Any, fmt: str = ",.0f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{fmt}}{unit}"


def summary_table(summary: dict[str, Any], color: bool = False) -> str:
    """The run's summary as a two-column table a person reads.

    Args:
        summary: ``Result.summary``.
        color: paint the outcome (green for success, red otherwise).
    """
    s = summary
    outcome = str(s.get("outcome"))
    reason = s.get("outcome_reason")
    total = s.get("requests_total") or 0
    failed = s.get("requests_failed")
    share = f" ({failed / total:.2%})" if total and failed is not None else ""
    start, end = s.get("deployment_start_s"), s.get("deployment_end_s")
    if start is not None and end is not None:
        hours = end >= 3600
        deployment = (
            f"{format_clock(start, hours)} → {format_clock(end, hours)} "
            f"({format_duration(s.get('deployment_duration_s'))})"
        )
    elif start is not None:
        deployment = f"started {format_clock(start)}, not finished"
    else:
        deployment = "-"
    requests = _num(total)
    if s.get("test_requests"):
        requests += f" (+ {s['test_requests']:,} test, {s.get('test_requests_failed', 0):,} failed)"
    fired = s.get("alarms_fired") or []
    rows = [
        ("outcome", outcome + (f" ({reason})" if reason else "")),
        ("deployment", deployment),
        ("requests", requests),
        ("failed (5xx)", _num(failed) + share),
        ("failed on green", _num(s.get("requests_failed_green"))),
        ("excess failed", _num(s.get("excess_failed"), ",.1f") + " (above blue's error rate)"),
        ("time to detect", format_duration(s.get("time_to_detect_s"))),
        (
            "latency p50 / p99",
            f"{_num(s.get('latency_p50_ms'), '.1f', ' ms')} / "
            f"{_num(s.get('latency_p99_ms'), '.1f', ' ms')}",
        ),
        ("worst-minute p99", _num(s.get("worst_minute_p99_ms"), ".1f", " ms")),
        ("peak tasks", _num(s.get("peak_tasks"))),
        ("vCPU-hours", _num(s.get("vcpu_hours"), ".3f")),
        ("GB-hours", _num(s.get("gb_hours"), ".3f")),
        ("cost", "-" if s.get("cost_usd") is None else f"${s['cost_usd']:,.4f}"),
        ("alarms fired", ", ".join(fired) if fired else "none"),
    ]
    width = max(len(k) for k, _ in rows)
    title = _paint("Summary", "head", color)
    out = [title, "-" * (width + 2 + max(len(v) for _, v in rows))]
    for key, value in rows:
        if key == "outcome":
            value = _paint(
                value, "good" if outcome in ("SUCCEEDED", "NO_DEPLOYMENT") else "bad", color
            )
        out.append(f"{key:<{width}}  {value}")
    return "\n".join(out)

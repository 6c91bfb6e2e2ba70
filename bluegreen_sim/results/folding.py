"""Folding per-task events: forty rows of task starts and health checks told as a few lines.

The events of one kind and one revision that come close together (a *burst*) become one line
with counts against the desired task count (*green: 10/10 tasks running*); tasks that fail and
the replacements ECS starts for them become one *churn* line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .text import format_clock
from .text import plural as _plural

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
    ("clients", "connections dropped"): "dropped",  # long-lived connections
}
# Frequent controller bookkeeping, folded the same way (source: the controller).
_BREAKER_EVENTS = ("circuit breaker count", "circuit breaker reset")
# A burst ends when a lifecycle event is told, or after this long without a similar event.
_BURST_GAP_S = 60.0
# The controller restates what the folded task lines already said.
_REDUNDANT = {"green tasks running"}


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

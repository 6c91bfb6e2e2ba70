"""Lifecycle events told one line each: shifts, alarms, hooks, faults, the controller's steps."""

from __future__ import annotations

import math
import re
from typing import Any

from .folding import _REDUNDANT, _Line

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

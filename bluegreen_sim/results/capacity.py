"""Capacity: how busy each revision's tasks are, before a run and during it.

A task serves at most ``concurrency`` requests at once, so a revision of ``tasks`` tasks can do
``tasks × concurrency`` seconds of work per second. The *offered utilisation* is the work that
arrives per second divided by that::

    utilisation = arrival rate × share of traffic × mean service time ÷ (tasks × concurrency)

At 1 or more, work arrives faster than it can be done: queues grow without bound, latency climbs
until the load balancer's idle timeout cuts requests (ELB 504), and health checks queue behind
requests and fail, so ECS replaces tasks that were merely busy. Near 1 (from
:data:`WARN_AT`) queues are long and latency rises steeply. Before a run,
:func:`offered_utilisation` computes it per revision at the peak rate, with all production
traffic and at the deployment's first shift. After a run, :func:`overload_spans` finds where it
stayed at 1 or more, from the timeline (the tasks actually running, the weights actually set).
Faults that slow tasks down (``latency``, ``slow_leak``) are not part of the mean service time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario import Scenario, read_empirical

__all__ = [
    "MIN_OVERLOAD_S",
    "WARN_AT",
    "Overload",
    "RevisionLoad",
    "capacity_lines",
    "capacity_warnings",
    "offered_utilisation",
    "overload_spans",
]

WARN_AT = 0.9  # utilisation from which a run is warned about (queues long, latency steep)
MIN_OVERLOAD_S = 60.0  # overloaded: utilisation >= 1 for at least this long
_MERGE_GAP_S = 30.0  # two overloaded spans this close are one (a task restarting between them)


@dataclass(frozen=True)
class RevisionLoad:
    """A revision's offered utilisation at the scenario's peak rate."""

    revision: str
    tasks: int
    concurrency: int
    mean_service_s: float
    peak_rps: float
    full: float  # with all production traffic
    first_share: float | None  # green's share at the first shift (percent), if it is below 100
    first: float | None  # green's utilisation at that share


@dataclass(frozen=True)
class Overload:
    """A span of the run in which a revision was offered more work than it could do."""

    revision: str
    start_s: float
    end_s: float
    peak: float  # the highest utilisation in the span


def _rate(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    # The engine's own rate function, so the figure is the one the run uses.
    from ..engine.arrivals import ArrivalProcess

    return ArrivalProcess(scenario, np.random.default_rng(0)).rate(t)


def mean_service_s(scenario: Scenario, revision: str) -> float:
    """The mean service time of a revision's requests, in seconds (faults not included)."""
    dist = scenario.revision(revision).latency
    samples = read_empirical(scenario, dist) if dist.distribution == "empirical" else None
    return dist.mean_seconds(samples)


def first_shift_percent(scenario: Scenario) -> float | None:
    """Green's share of production traffic at the deployment's first shift (percent)."""
    dep = scenario.deployment
    if dep.controller == "codedeploy":
        kind, pct, _ = dep.traffic_routing()
        return 100.0 if kind == "AllAtOnce" else float(pct)
    if dep.controller == "ecs":
        # a rolling update moves no weight: the new tasks join the one target group
        return {
            "BLUE_GREEN": 100.0,
            "LINEAR": dep.linear.step_percent,
            "CANARY": dep.canary.canary_percent,
        }.get(dep.strategy)
    if dep.controller == "steps":
        return next((s.weight for s in dep.steps if s.weight > 0), None)
    return None


def offered_utilisation(scenario: Scenario) -> list[RevisionLoad]:
    """Each revision's utilisation at the peak arrival rate (green only if it is deployed)."""
    t = np.arange(0.0, scenario.duration, 1.0)
    peak = float(_rate(scenario, t).max()) if len(t) else scenario.load.rps
    revisions = ["blue"] if scenario.deployment.controller == "none" else ["blue", "green"]
    share = first_shift_percent(scenario)
    out = []
    for rev in revisions:
        spec = scenario.revision(rev)
        mean = mean_service_s(scenario, rev)
        full = peak * mean / (spec.tasks * spec.concurrency)
        partial = rev == "green" and share is not None and share < 100
        out.append(
            RevisionLoad(
                rev,
                spec.tasks,
                spec.concurrency,
                mean,
                peak,
                full,
                share if partial else None,
                full * share / 100 if partial else None,
            )
        )
    return out


def _pct(u: float) -> str:
    return f"{u:.0%}" if u >= 0.095 else f"{u:.1%}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def capacity_lines(loads: list[RevisionLoad]) -> list[str]:
    """The capacity block ``validate`` and ``run`` print, one line per revision."""
    if not loads:
        return []
    peak = loads[0].peak_rps
    lines = [
        f"capacity at the peak rate, {peak:,.0f} req/s "
        "(utilisation = rate × mean service ÷ (tasks × concurrency)):"
    ]
    for ld in loads:
        text = (
            f"  {ld.revision:<5}  {ld.tasks} tasks × {ld.concurrency} concurrent, mean service "
            f"{_ms(ld.mean_service_s)}: {_pct(ld.full)} at full traffic"
        )
        if ld.first is not None:
            text += f", {_pct(ld.first)} at the first shift ({ld.first_share:g} %)"
        lines.append(text)
    return lines


def capacity_warnings(loads: list[RevisionLoad]) -> list[str]:
    """One line per revision at or above :data:`WARN_AT` utilisation with all traffic."""
    out = []
    for ld in loads:
        if ld.full < WARN_AT:
            continue
        what = (
            "queues grow without bound"
            if ld.full >= 1
            else "queues are long and latency rises steeply"
        )
        out.append(
            f"{ld.revision} is {_pct(ld.full)} utilised at full traffic ({what}); add tasks or "
            "raise service.concurrency (see service.concurrency in the scenario reference, "
            "docs/scenario-reference.md)"
        )
    return out


def overload_spans(result: Any) -> list[Overload]:
    """Where a revision stayed at utilisation >= 1 for at least :data:`MIN_OVERLOAD_S`.

    The rule: per second of the timeline, a revision's utilisation is the arrival rate × its
    share of production traffic (the listener weights) × its mean service time, divided by its
    running tasks × concurrency. Utilisation >= 1 means work arrives faster than the running
    tasks can do it, so the queues grow for as long as it lasts. A second with traffic but no
    running task counts too. A span of at least a minute is reported (spans closer than 30 s
    are one: a task restarting between them).
    """
    scenario = getattr(result, "scenario", None)
    tl = result.timeline
    if scenario is None or tl is None or not len(tl):
        return []
    t = tl["time_s"].to_numpy(dtype=float)
    rate = _rate(scenario, t + 0.5)
    green = tl["green_weight"].to_numpy(dtype=float) / 100.0
    spans = []
    for rev, share in (("blue", 1.0 - green), ("green", green)):
        column = f"running_{rev}"
        if column not in tl:
            continue
        spec = scenario.revision(rev)
        running = tl[column].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            util = rate * share * mean_service_s(scenario, rev) / (running * spec.concurrency)
        # No running task at all while the revision has traffic is no capacity either (503s).
        over = (share > 0) & ((running == 0) | (util >= 1.0))
        for start, end in _runs(t, over):
            end = min(end, scenario.duration)  # late responses make rows after the end
            if end - start >= MIN_OVERLOAD_S:
                inside = (t >= start) & (t < end) & over & (running > 0)
                peak = float(util[inside].max()) if inside.any() else float("inf")
                spans.append(Overload(rev, start, end, peak))
    return sorted(spans, key=lambda o: o.start_s)


def _runs(t: np.ndarray, flag: np.ndarray) -> list[tuple[float, float]]:
    """[start, end) of the runs of True in ``flag``, merging gaps under ``_MERGE_GAP_S``."""
    runs: list[list[float]] = []
    idx = np.flatnonzero(flag)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    for s, e in zip(starts, ends, strict=True):
        a, b = float(t[s]), float(t[e]) + 1.0
        if runs and a - runs[-1][1] < _MERGE_GAP_S:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs]

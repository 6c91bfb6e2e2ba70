"""Builds the world from a scenario, runs it, and returns a :class:`~bluegreen_sim.results.Result`.

Randomness: one :class:`numpy.random.SeedSequence` per run, spawned into one stream per source
(arrivals, routing, service, errors, start-up, hooks, faults, clients), so two strategies run
with the same seed see the same traffic (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from ..aws.alarms import Alarm
from ..aws.alb import ApplicationLoadBalancer
from ..aws.anomaly import AnomalyMitigation
from ..aws.controllers import CONTROLLERS
from ..aws.controllers.base import DeploymentRecord
from ..aws.fargate import STOPPED, TaskSet
from ..aws.faults import FaultEngine
from ..aws.metrics import MetricStore, metrics_frame
from ..results.result import Result
from ..scenario import Scenario
from . import connections
from .dataplane import DataPlane
from .recorder import REVISIONS, STATUSES, Recorder, build_timeline, percentile_ms

_PROGRESS_STEP_S = 60.0  # how often, in simulated time, a run reports its progress

STREAMS = (
    "arrivals",
    "routing",
    "service",
    "errors",
    "startup",
    "hooks",
    "faults",
    # spawned after the others, so adding them left the others' draws unchanged
    "clients",
    "connections",
)


@dataclass
class Streams:
    """One independent generator per source of randomness."""

    arrivals: np.random.Generator
    routing: np.random.Generator
    service: np.random.Generator
    errors: np.random.Generator
    startup: np.random.Generator
    hooks: np.random.Generator
    faults: np.random.Generator
    clients: np.random.Generator  # spawned after the others, which they leave unchanged
    connections: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence) -> Streams:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        return cls(*(np.random.default_rng(s) for s in ss.spawn(len(STREAMS))))


class World:
    """Everything one run holds: the SimPy environment, the AWS resources, the records."""

    def __init__(
        self, scenario: Scenario, seed: int | np.random.SeedSequence, record_requests: bool
    ):
        self.scenario = scenario
        self.env = simpy.Environment()
        self.rngs = Streams.from_seed(seed)
        self.events: list[tuple[float, str, str, str]] = []
        self._tasks: list = []
        self._milestones: dict[str, simpy.Event] = {}
        self.alarm_listeners: list = []
        self.version = 0  # bumped by every task state or health change
        lb = scenario.load_balancer
        self.alb = ApplicationLoadBalancer(self, lb)
        self.listener = self.alb.listener
        horizon = scenario.duration + lb.idle_timeout + 120
        self.metrics = MetricStore(horizon)
        self.alarms = {a.name: Alarm(self, a) for a in scenario.alarms}
        self.recorder = Recorder(self, record_requests)
        # ALB automatic target weights (weighted_random with anomaly_mitigation), else None
        self.anomaly = AnomalyMitigation(self) if lb.anomaly_mitigation else None
        self.connections = None  # long-lived connections, when the load has them
        self.dataplane = DataPlane(self)
        self.task_sets: dict[str, TaskSet] = {}
        self.deployment = DeploymentRecord(scenario.deployment.controller)
        self.faults = FaultEngine(self)
        blue_spec = scenario.revision("blue")
        blue = TaskSet(self, "blue", blue_spec, blue_spec.tasks)
        self.task_sets["blue"] = blue
        blue.start_all(ready=True)
        for task in blue.tasks:
            self.faults.task_started(task)
        self.connections = connections.attach(self)
        self.controller = CONTROLLERS[scenario.deployment.controller](self)

    # -- services for the processes ----------------------------------------------------------
    def log(self, source: str, event: str, detail: str = "") -> None:
        self.events.append((self.env.now, source, event, detail))

    def new_task_id(self, task) -> int:
        self._tasks.append(task)
        return len(self._tasks) - 1

    def milestone(self, name: str) -> simpy.Event:
        """The event of a deployment milestone (fires once, when reached)."""
        if name == "start":
            ev = self.env.event()
            ev.succeed()
            return ev
        if name not in self._milestones:
            self._milestones[name] = self.env.event()
        return self._milestones[name]

    def reach(self, name: str) -> None:
        ev = self.milestone(name)
        if not ev.triggered:
            ev.succeed(self.env.now)

    def unhealthy_replacement(self) -> str:
        """How ECS replaces unhealthy tasks: ``replace_first`` or ``stop_first``.

        The ECS deployment controller (and a service with no deployment) replaces first (ECS-UG
        ``deployment-type-ecs.md``); task sets of the other controllers follow
        ``deployment.task_set_replacement``.
        """
        dep = self.scenario.deployment
        if dep.controller in ("ecs", "none"):
            return "replace_first"
        return dep.task_set_replacement

    def ecs_replace_unhealthy(self, task) -> None:
        """The target group marked ``task`` unhealthy: ECS replaces it, after the grace period.

        ``healthCheckGracePeriodSeconds``: ECS ignores failing load-balancer health checks of a
        task for that long after it started; if the target is still unhealthy when the grace
        period ends, ECS replaces it then.
        """
        if task.state != "RUNNING":
            return
        grace_end = (task.running_at or 0.0) + self.scenario.service.health_check_grace_period
        if self.env.now < grace_end:
            self.env.process(self._after_grace(task, grace_end))
            return
        task.task_set.replace_unhealthy(task)

    def _after_grace(self, task, grace_end: float):
        if task.in_grace:
            return  # already waiting for the end of this task's grace period
        task.in_grace = True
        self.log("ecs", "unhealthy ignored", f"{task.name}: grace period until {grace_end:g}s")
        yield self.env.timeout(grace_end - self.env.now)
        task.in_grace = False
        if task.state == "RUNNING" and task.health == "unhealthy":
            task.task_set.replace_unhealthy(task)

    # -- running ---------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> None:
        env = self.env
        env.process(self.dataplane.run())
        for alarm in self.alarms.values():
            env.process(alarm.run())
        if self.anomaly is not None:
            env.process(self.anomaly.run())
        env.process(self.controller.run())
        end = self.scenario.duration
        if progress is not None:
            # In slices, to say how far the run is: stopping at a time and going on processes
            # the same events in the same order, so the results do not change.
            for t in np.arange(_PROGRESS_STEP_S, end, _PROGRESS_STEP_S):
                env.run(until=float(t))
                progress(float(t))
        env.run(until=end)
        self.dataplane.finalize(math.inf)
        if progress is not None:
            progress(end)


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    record_requests: bool = False,
    progress: Callable[[float], None] | None = None,
) -> Result:
    """Run one scenario.

    Args:
        scenario: a :class:`~bluegreen_sim.scenario.Scenario` (see :func:`load_scenario`).
        seed: the run's seed; ``None`` uses the scenario's ``seed``, else 0.
        record_requests: also return one row per production request (memory: ~60 B each).
        progress: called with the simulated time reached, every 60 simulated seconds and at
            the end (the CLI's progress line); it must not touch the world.

    Returns:
        A :class:`~bluegreen_sim.results.Result`.
    """
    if seed is None:
        seed = scenario.seed if scenario.seed is not None else 0
    world = World(scenario, seed, record_requests)
    world.run(progress)
    return _result(world, seed)


def _result(world: World, seed: Any) -> Result:
    sc = world.scenario
    rec = world.recorder
    timeline = build_timeline(rec, world)
    events = pd.DataFrame(world.events, columns=["time_s", "source", "event", "detail"])
    alarms = pd.DataFrame(
        [h for a in world.alarms.values() for h in a.history],
        columns=["time_s", "alarm", "old_state", "new_state", "datapoints"],
    ).sort_values("time_s", kind="stable", ignore_index=True)
    # Up to the last response: requests in flight at the end still answer after it.
    metrics = metrics_frame(world.metrics, max(sc.duration, len(timeline)))
    requests = None
    if rec.record_requests:
        chunks = rec.request_chunks
        cols = ["arrival_s", "revision", "task", "start_s", "finish_s", "latency_ms", "status"]
        if chunks:
            data = {c: np.concatenate([ch[c] for ch in chunks]) for c in cols}
        else:
            data = {c: np.empty(0) for c in cols}
        requests = pd.DataFrame(data)
        requests["revision"] = np.where(requests["revision"].to_numpy() == 1, "green", "blue")
        names = np.array([t.name for t in world._tasks] + [""], dtype=object)
        task_idx = requests["task"].to_numpy().astype(np.int64)
        requests["task"] = names[np.where(task_idx >= 0, task_idx, len(names) - 1)]
        requests = requests.sort_values("arrival_s", kind="stable", ignore_index=True)
    summary = _summary(world, seed, timeline)
    return Result(summary, timeline, events, metrics, alarms, requests, scenario=sc)


def _summary(world: World, seed: Any, timeline: pd.DataFrame) -> dict[str, Any]:
    sc = world.scenario
    rec = world.recorder
    dep = world.deployment
    counts = rec.status_counts  # [revision, status index]; index 0 is HTTP 200
    total = int(counts.sum())
    failed = int(counts[:, 1:].sum())
    by_rev = {g: (int(counts[g].sum()), int(counts[g, 1:].sum())) for g in (0, 1)}
    baseline = sc.revision("blue").error_rate
    duration = sc.duration
    task_seconds = {rev: ts.task_seconds(duration) for rev, ts in world.task_sets.items()}
    vcpu_hours = sum(task_seconds[rev] * ts.spec.cpu for rev, ts in world.task_sets.items()) / 3600
    gb_hours = sum(task_seconds[rev] * ts.spec.memory for rev, ts in world.task_sets.items()) / 3600
    minute_p99 = rec.minute_p99s()
    first_faulty = world.dataplane.first_faulty_green
    detect = None
    if first_faulty is not None and dep.stopped_at is not None and dep.stopped_at >= first_faulty:
        detect = dep.stopped_at - first_faulty
    fired = sorted(
        {h["alarm"] for a in world.alarms.values() for h in a.history if h["new_state"] == "ALARM"}
    )
    reached = {name: (ev.value if ev.triggered else None) for name, ev in world._milestones.items()}
    full_traffic = reached.get("full_traffic")
    status_totals = dict(zip(STATUSES, counts.sum(axis=0).tolist(), strict=True))
    summary: dict[str, Any] = {
        "scenario": sc.name,
        "seed": seed if isinstance(seed, int | str) else repr(seed),
        "controller": sc.deployment.controller,
        # SUCCEEDED, ROLLED_BACK, FAILED, STOPPED, NO_DEPLOYMENT; IN_PROGRESS if the run
        # ended before the deployment did
        "outcome": dep.outcome,
        "outcome_reason": dep.reason,
        "deployment_start_s": dep.start,
        "deployment_end_s": dep.end,
        "deployment_duration_s": (dep.end - dep.start)
        if dep.end is not None and dep.start is not None
        else None,
        "rollback_start_s": dep.rollback_start,
        "production_traffic_s": reached.get("production_traffic"),
        "full_traffic_s": full_traffic,
        "detected_before_full_traffic": dep.stopped_at is not None
        and (full_traffic is None or dep.stopped_at < full_traffic),
        "time_to_detect_s": detect,
        "first_faulty_green_request_s": first_faulty,
        "requests_total": total,
        "requests_failed": failed,
        "requests_failed_blue": by_rev[0][1],
        "requests_failed_green": by_rev[1][1],
        "requests_blue": by_rev[0][0],
        "requests_green": by_rev[1][0],
        "error_rate_blue": by_rev[0][1] / by_rev[0][0] if by_rev[0][0] else None,
        "error_rate_green": by_rev[1][1] / by_rev[1][0] if by_rev[1][0] else None,
        "excess_failed": failed - baseline * total,
        **{f"requests_{s}": c for s, c in status_totals.items()},
        "latency_mean_ms": rec.latency_sum / total * 1000 if total else None,
        "latency_p50_ms": percentile_ms(rec.hist, 0.5),
        "latency_p99_ms": percentile_ms(rec.hist, 0.99),
        "worst_minute_p99_ms": max(minute_p99) if minute_p99 else None,
        "test_requests": rec.test_requests,
        "test_requests_failed": rec.test_failed,
        "peak_tasks": _peak_tasks(world),
        "vcpu_hours": vcpu_hours,
        "gb_hours": gb_hours,
        "cost_usd": vcpu_hours * sc.pricing.vcpu_hour + gb_hours * sc.pricing.gb_hour,
        "alarms_fired": fired,
        # Clients that sent at least one production request to green (None: no load.clients)
        "clients_reached_green": (
            int(world.dataplane.clients.reached_green.sum()) if world.dataplane.clients else None
        ),
        **connections.summary(world),
    }
    return summary


def _peak_tasks(world: World) -> int:
    """Most tasks existing (billed) at once."""
    changes = []
    for ts in world.task_sets.values():
        for t in ts.tasks:
            changes.append((t.created_at, 1))
            if t.state == STOPPED and t.stopped_at is not None:
                changes.append((t.stopped_at, -1))
    changes.sort(key=lambda c: (c[0], c[1]))
    peak = level = 0
    for _, d in changes:
        level += d
        peak = max(peak, level)
    return peak


__all__ = ["REVISIONS", "Streams", "World", "simulate"]

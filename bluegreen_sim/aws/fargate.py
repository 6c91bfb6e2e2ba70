"""ECS Fargate tasks and task sets: lifecycle, start-up, and ECS replacing failed tasks.

A task walks PROVISIONING → PENDING (image pull: billing starts) → RUNNING (then it is
registered with its target group, health ``initial``) → … → DRAINING → (SIGTERM, SIGKILL after
``stop_timeout``) → STOPPED. ECS keeps a task set at its desired count: a task that crashes is
stopped and a new one starts, paying the start-up time again; a task its target group marks
unhealthy is replaced first and stopped as its replacement becomes healthy, within the service's
``minimum_healthy_percent`` and ``maximum_percent``. Tasks carry the state the data plane reads
(queue, faults in force).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from ..engine.distributions import Sampler
from ..scenario import ServiceSpec

if TYPE_CHECKING:
    from ..engine.simulation import World

PROVISIONING, PENDING, RUNNING, DRAINING, STOPPED = (
    "PROVISIONING",
    "PENDING",
    "RUNNING",
    "DRAINING",
    "STOPPED",
)
# Fargate takes a few seconds to provision (ENI) before the image pull; the rest of the
# start-up time is PENDING. AWS publishes no figure: a share of the start-up time, stated here.
PROVISIONING_SHARE = 0.2


class _Column:
    """A task attribute kept in the data plane's task table (read there once per window)."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, task: Task | None, owner=None):
        if task is None:
            return self
        return float(task.world.dataplane.table.columns[self.name][task.id])

    def __set__(self, task: Task, value: float) -> None:
        task.world.dataplane.flush()  # windows promised so far are served as they were
        table = task.world.dataplane.table
        table.columns[self.name][task.id] = value
        if value != table.DEFAULTS[self.name]:
            if self.name in ("latency_multiply", "latency_add", "leak_growth"):
                table.latency_faults = True
            elif self.name in ("extra_error_rate", "overload_error_rate"):
                table.error_faults = True
                table.overload_faults |= self.name == "overload_error_rate"


class Task:
    """One Fargate task of a revision, and the data-plane state that travels with it."""

    # Faults in force, set by the fault engine, read by the data plane at each window.
    extra_error_rate = _Column()
    latency_multiply = _Column()
    latency_add = _Column()
    leak_growth = _Column()  # seconds of extra latency per minute of age
    leak_since = _Column()
    probe_failure = _Column()
    overload_error_rate = _Column()
    overload_utilisation = _Column()
    faulty = _Column()

    def __init__(self, world: World, task_set: TaskSet, number: int):
        self.world = world
        self.id = world.new_task_id(self)
        self.task_set = task_set
        self.revision = task_set.revision
        self.name = f"{self.revision}-{number}"
        self.concurrency = task_set.spec.concurrency
        self._state = PROVISIONING
        self.created_at = world.env.now
        self.pulled_at: float | None = None  # image pull started: Fargate bills from here
        self.running_at: float | None = None
        self.answers_from = 0.0  # the application answers from here (RUNNING + app_start)
        self.replacing = False  # ECS decided to replace it (unhealthy): stopped once it may be
        self.in_grace = False  # unhealthy within the grace period: ECS looks again at its end
        self.stopped_at: float | None = None
        self.stop_reason = ""
        self._health: str | None = None  # None until registered: initial/healthy/unhealthy/draining
        self.healthy_at: float | None = None
        self.slow_start = False  # in ALB slow start since it became healthy
        self.registered_at: float | None = None
        world.dataplane.add_task(self)

    # State and health changes bump the world's version: the data plane caches what it
    # derives from them (targets in service, host counts) until the next change.
    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state = value
        self.world.version += 1

    @property
    def health(self) -> str | None:
        return self._health

    @health.setter
    def health(self, value: str | None) -> None:
        self.world.dataplane.flush()  # windows promised so far are served as they were
        self._health = value
        self.world.version += 1

    def __repr__(self) -> str:
        return f"Task({self.name}, {self.state}, {self.health})"


class TaskSet:
    """N tasks of one revision, kept at the desired count by ECS."""

    def __init__(self, world: World, revision: str, spec: ServiceSpec, desired: int):
        self.world = world
        self.revision = revision
        self.spec = spec
        self.desired = desired
        self.tasks: list[Task] = []
        self.active = True
        self._started = 0
        self.startup = Sampler(spec.startup, world.scenario)
        self.on_task_failed: list = []  # callbacks(task) for controllers (circuit breaker)
        self.on_task_healthy: list = []
        self.replacement = world.unhealthy_replacement()  # replace_first | stop_first
        service = world.scenario.service
        # minimumHealthyPercent rounds up, maximumPercent down (BC DeploymentConfiguration).
        self.min_healthy = math.ceil(desired * service.minimum_healthy_percent / 100 - 1e-9)
        self.max_tasks = max(desired, math.floor(desired * service.maximum_percent / 100 + 1e-9))
        self._reconciling = False
        # The target group its tasks register in: its own revision's, except in an ECS rolling
        # update, where the new revision's tasks join the one production group.
        self.group = revision

    # -- queries ---------------------------------------------------------------------------
    def running(self) -> list[Task]:
        return [t for t in self.tasks if t.state == RUNNING]

    def healthy(self) -> list[Task]:
        return [t for t in self.tasks if t.state == RUNNING and t.health == "healthy"]

    def is_steady(self) -> bool:
        """Every desired task running and healthy in the target group (ECS steady state)."""
        return len(self.healthy()) >= self.desired

    # -- lifecycle ------------------------------------------------------------------------
    def start_all(self, *, ready: bool = False) -> None:
        """Start the desired number of tasks (``ready``: already running and healthy at t=0)."""
        for _ in range(self.desired):
            self.launch(ready=ready)

    def launch(self, *, ready: bool = False) -> Task:
        self._started += 1
        task = Task(self.world, self, self._started)
        self.tasks.append(task)
        if ready:
            task.state = RUNNING
            task.pulled_at = task.running_at = task.created_at
            self.world.alb.target_group(self.group).register(task, healthy=True)
        else:
            self.world.env.process(self._start(task))
        return task

    def _start(self, task: Task):
        world = self.world
        startup = float(self.startup.sample(world.rngs.startup))
        world.log("ecs", "task provisioning", f"{task.name}: start-up {startup:.0f}s")
        yield world.env.timeout(startup * PROVISIONING_SHARE)
        if task.state == STOPPED:
            return
        task.state = PENDING
        task.pulled_at = world.env.now
        yield world.env.timeout(startup * (1 - PROVISIONING_SHARE))
        if task.state == STOPPED:
            return
        task.state = RUNNING
        task.running_at = world.env.now
        if self.spec.app_start > 0:
            task.answers_from = world.env.now + self.spec.app_start
            world.dataplane.refuse_until(task, task.answers_from)
        world.log("ecs", "task running", task.name)
        world.faults.task_started(task)
        world.alb.target_group(self.group).register(task)

    def stop_task(self, task: Task, reason: str, *, replace: bool = True, drain: bool = True):
        """Stop one task; ECS starts a replacement while the task set is active."""
        if task.state in (STOPPED, DRAINING):
            return
        tg = self.world.alb.target_group(self.group)
        if task.health is not None and drain:
            task.state = DRAINING
            task.stop_reason = reason
            self.world.env.process(tg.deregister(task, then_stop=True))
        else:
            if task.health is not None:
                tg.remove(task)
            self._stopped(task, reason)
        if reason.startswith(("crashed", "unhealthy", "essential container exited")):
            for callback in list(self.on_task_failed):
                callback(task)
        if replace and self.active:
            self.launch()

    def drained(self, task: Task):
        """SimPy process: the target has deregistered; ECS stops the task (``docker stop``).

        ECS sends SIGTERM, then SIGKILL after the container's ``stop_timeout`` (ECS-UG
        ``update-service.md``). The load balancer has already answered what the target still
        held (502 at the end of the delay); the application finishes that work and exits when it
        is idle, or is killed at the timeout, whichever comes first.
        """
        world = self.world
        now = world.env.now
        world.dataplane.kill(task, now)  # ALB closed its connections at the end of the delay
        idle = world.dataplane.busy_until(task)
        exit_at = min(now + self.spec.stop_timeout, max(now, idle))
        if exit_at > now:
            timeout = self.spec.stop_timeout
            world.log("ecs", "task stopping", f"{task.name}: SIGTERM, stop timeout {timeout:g}s")
            yield world.env.timeout(exit_at - now)
        self._stopped(task, task.stop_reason or "deregistered")

    def _stopped(self, task: Task, reason: str) -> None:
        now = self.world.env.now
        if task.state == STOPPED:
            return
        task.state = STOPPED
        task.stopped_at = now
        task.stop_reason = task.stop_reason or reason
        self.world.dataplane.kill(task, now)
        self.world.log("ecs", "task stopped", f"{task.name}: {task.stop_reason}")
        if self.world.connections is not None:  # long-lived connections on it drop
            self.world.connections.drop(task, now)
        if self.replacement == "replace_first":
            self.reconcile()

    def crash(self, task: Task, reason: str = "crashed") -> None:
        """The task's essential container exits: in-flight requests end as ELB 502."""
        if task.state in (STOPPED,):
            return
        tg = self.world.alb.target_group(self.group)
        was_draining = task.state == DRAINING
        if task.health is not None:
            tg.remove(task)
        self._stopped(task, reason)
        if not was_draining:
            for callback in list(self.on_task_failed):
                callback(task)
            if self.active and self.replacement == "stop_first":
                self.launch()

    # -- replacing unhealthy tasks ----------------------------------------------------------
    def replace_unhealthy(self, task: Task) -> None:
        """ECS replaces a task its target group marked unhealthy.

        ``stop_first`` (ECS before October 2023): the task is drained and stopped, and its
        replacement starts at once. ``replace_first`` (ECS-UG ``deployment-type-ecs.md``; BC
        ``DeploymentConfiguration``): the replacement starts first and the unhealthy task is
        stopped only as replacements become healthy, or, when ``maximumPercent`` leaves no room
        to start one, one by one while ``minimumHealthyPercent`` of the tasks remain.
        """
        if task.state != RUNNING or task.replacing:
            return
        if self.replacement == "stop_first":
            self.stop_task(task, "unhealthy: failed ELB health checks")
            return
        task.replacing = True
        self.world.log("ecs", "task marked for replacement", f"{task.name}: unhealthy")
        self.reconcile()

    def reconcile(self) -> None:
        """Start replacements, and stop tasks marked for replacement, as the limits allow.

        Counted against ``maximumPercent``: tasks PENDING or RUNNING, draining ones included
        (they are RUNNING until they stop), and those provisioning. Counted towards
        ``minimumHealthyPercent``: healthy tasks, and the unhealthy ones ECS keeps until their
        replacements are healthy. With 100 % / 100 % an unhealthy task can be neither replaced
        nor stopped: it stays, as the rules say.
        """
        if not self.active or self.replacement != "replace_first" or self._reconciling:
            return
        self._reconciling = True
        try:
            while True:
                live = [t for t in self.tasks if t.state != STOPPED]
                active = [t for t in live if t.state != DRAINING]
                kept = [t for t in active if not t.replacing]
                need = self.desired - len(kept)
                if need > 0 and len(live) < self.max_tasks:
                    self.launch()
                    continue
                marked = [t for t in active if t.replacing]
                if not marked:
                    return
                healthy = sum(1 for t in kept if t.state == RUNNING and t.health == "healthy")
                counted = healthy + len(marked)
                surplus = counted > self.desired  # a replacement is healthy: an old task goes
                # No room to start a replacement: stop unhealthy tasks one by one, as long as
                # minimumHealthyPercent remain, until the tasks already stopping free enough.
                stopping = len(live) - len(active)
                blocked = need > stopping and counted - 1 >= self.min_healthy
                if not (surplus or blocked):
                    return
                # Unhealthy ones first, then in the order ECS marked them.
                task = min(marked, key=lambda t: t.health == "healthy")
                self.stop_task(task, "unhealthy: failed ELB health checks", replace=False)
        finally:
            self._reconciling = False

    def remove(self, reason: str, *, drain: bool = True) -> simpy.Event:
        """Scale the task set to zero (blue after a deployment, green after a rollback).

        Returns an event that fires once every task has stopped.
        """
        self.active = False
        world = self.world
        live = [t for t in self.tasks if t.state != STOPPED]
        for task in live:
            if task.state in (PROVISIONING, PENDING):
                self._stopped(task, reason)
            elif task.state == RUNNING:
                self.stop_task(task, reason, replace=False, drain=drain)
        return world.env.process(self._wait_stopped())

    def _wait_stopped(self):
        while any(t.state != STOPPED for t in self.tasks):
            yield self.world.env.timeout(1.0)

    # -- cost --------------------------------------------------------------------------------
    def task_seconds(self, end: float) -> float:
        """Billed task time up to ``end`` (Fargate pricing).

        A task is billed from the start of its image pull until it stops, rounded up to the
        second, with a one-minute minimum; a task never pulled costs nothing. A task still
        running at ``end`` is billed up to ``end`` (its bill so far).
        """
        total = 0.0
        for t in self.tasks:
            if t.pulled_at is None or t.pulled_at >= end:
                continue
            if t.stopped_at is None or t.stopped_at > end:
                total += end - t.pulled_at
            else:
                total += max(60.0, math.ceil(t.stopped_at - t.pulled_at - 1e-9))
        return total


def circuit_breaker_threshold(desired: int, kind: str = "BOUNDED_PERCENT", value: int = 50) -> int:
    """ECS deployment circuit breaker failed-task threshold.

    BOUNDED_PERCENT (the default, value 50): clamp(⌈value % × desired⌉, 3, 200);
    UNBOUNDED_PERCENT: ⌈value % × desired⌉ (at least 1); COUNT: ``value``.
    """
    if kind == "COUNT":
        return value
    raw = math.ceil(value / 100 * desired - 1e-9)
    if kind == "UNBOUNDED_PERCENT":
        return max(1, raw)
    return min(max(raw, 3), 200)

"""The Application Load Balancer: listeners, target groups, health checks, draining, slow start.

The production listener forwards to the blue and green target groups by weight (share = weight /
sum). An optional test listener forwards test traffic to green. Inside a target group only
targets in service receive requests: healthy ones; or, if every registered target is unhealthy,
all of them (the ALB fails open). A group with weight but no registered target answers 503.

Health checks are probes served by the task like a request, so an overloaded task fails them by
timeout. A new target is ``initial`` until it passes the healthy threshold's number of checks
(``initial_checks``, if set). A deregistering target drains for the full delay while clients
hold keep-alive connections, and ends early once idle if they close them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..scenario import LoadBalancerSpec

if TYPE_CHECKING:
    from ..engine.simulation import World
    from .fargate import Task


class Listener:
    """The production listener's weighted forward, and the test listener."""

    def __init__(self, world: World, has_test_listener: bool):
        self.world = world
        self.green_weight = 0.0  # percent of production traffic forwarded to green
        self.has_test_listener = has_test_listener
        self.test_traffic_to_green = False  # CodeDeploy AllowTestTraffic / ECS TEST_TRAFFIC_SHIFT

    def set_green_weight(self, percent: float, reason: str = "") -> None:
        """Forward ``percent`` of production traffic to green, the rest to blue.

        The change takes effect ``listener_change_delay`` seconds later (the race
        between a weight change and its targets); changes apply in the order they were made.
        """
        delay = self.world.scenario.load_balancer.listener_change_delay
        if delay > 0:
            self.world.log(
                "alb", "listener change requested", f"green {percent:g}% in {delay:g}s ({reason})"
            )
            self.world.env.process(self._apply_later(delay, percent, reason))
            return
        self._apply(percent, reason)

    def _apply_later(self, delay: float, percent: float, reason: str):
        yield self.world.env.timeout(delay)
        self._apply(percent, reason)

    def _apply(self, percent: float, reason: str) -> None:
        percent = float(min(max(percent, 0.0), 100.0))
        if percent == self.green_weight:
            return
        self.world.dataplane.flush()  # windows promised so far keep the weight they had
        self.green_weight = percent
        detail = f"green {percent:g}% / blue {100 - percent:g}%"
        self.world.log(
            "alb", "production traffic shifted", detail + (f" ({reason})" if reason else "")
        )


class TargetGroup:
    """The targets of one revision and their health."""

    def __init__(self, world: World, revision: str, spec: LoadBalancerSpec):
        self.world = world
        self.revision = revision
        self.spec = spec
        self.targets: list[Task] = []  # registered, not draining
        self.rr = 0  # round-robin position, carried across windows
        self._cache_key: int | None = None
        self._counts_key: int | None = None
        self._counts = (0, 0)
        self._cache: tuple[np.ndarray, np.ndarray | None] = (np.empty(0, np.int64), None)

    # -- membership ------------------------------------------------------------------------
    def register(self, task: Task, *, healthy: bool = False) -> None:
        """Register a running task. Blue starts the run already healthy."""
        world = self.world
        world.dataplane.flush()  # membership changes: serve what was promised first
        task.registered_at = world.env.now
        # ECS registers each task (awsvpc: its own IP target) when it starts, one registration
        # per task. Targets registered into an empty group in one registration operation do
        # not enter slow start (ALB-UG): here, the first target of an empty group.
        task.slow_start_exempt = not self.targets
        self.targets.append(task)
        if healthy or not self.spec.health_check.enabled:
            task.health = "healthy"
            task.healthy_at = world.env.now
        else:
            task.health = "initial"
            world.log("alb", "target registered", f"{task.name} in {self.revision} (initial)")
        if self.spec.health_check.enabled:
            world.env.process(HealthChecker(world, self, task).run())

    def remove(self, task: Task) -> None:
        """Take a target out at once (its task stopped)."""
        self.world.dataplane.flush()
        if task in self.targets:
            self.targets.remove(task)
        task.health = None

    def deregister(self, task: Task, *, then_stop: bool):
        """Drain a target: no new requests; in-flight ones may finish within the delay.

        If no request is in flight the deregistration completes at once; requests still in
        flight when the delay ends are cut (ELB 502) when ECS stops the task.
        """
        world = self.world
        world.dataplane.flush()
        if task in self.targets:
            self.targets.remove(task)
        task.health = "draining"
        started = world.env.now
        world.log(
            "alb",
            "target draining",
            f"{task.name} (deregistration delay {self.spec.deregistration_delay:g}s)",
        )
        # The data plane routes with the set of the window in force; the change applies from
        # the next window, so in-flight work is known once that window has been served.
        yield world.env.timeout(world.dataplane.time_to_next_window())
        deadline = started + self.spec.deregistration_delay
        if self.spec.client_connections == "close":
            # No in-flight requests and no active connections: deregistration completes early.
            busy_until = world.dataplane.busy_until(task)
            if world.connections is not None:  # open long-lived connections keep it draining
                busy_until = max(busy_until, world.connections.last_end(task))
            done = max(world.env.now, min(deadline, busy_until))
        else:
            # Keep-alive clients hold connections open: the full delay runs.
            done = max(world.env.now, deadline)
        yield world.env.timeout(done - world.env.now)
        task.health = None
        world.log("alb", "target deregistered", task.name)
        if then_stop:
            yield world.env.process(task.task_set.drained(task))

    # -- routing ---------------------------------------------------------------------------
    def in_service(self) -> tuple[list[Task], np.ndarray | None]:
        """Targets that receive requests now, and their slow-start weights (None: all equal)."""
        healthy = [t for t in self.targets if t.health == "healthy"]
        if not healthy:
            # Fail open: only unhealthy (or still initial) registered targets → route to all.
            return list(self.targets), None
        slow = self.spec.slow_start
        if not slow:
            anomaly = self.world.anomaly  # automatic target weights (weighted_random only)
            return healthy, (anomaly.weights(healthy) if anomaly is not None else None)
        now = self.world.env.now
        weights = np.ones(len(healthy))
        ramping = [now - t.healthy_at < slow and t.slow_start for t in healthy]
        if any(ramping) and not all(ramping):
            for i, t in enumerate(healthy):
                if ramping[i]:
                    # Linear ramp; a floor keeps a target that has just entered slow start live.
                    weights[i] = max((now - t.healthy_at) / slow, 0.01)
            return healthy, weights
        return healthy, None

    def in_service_ids(self) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`in_service` as task ids, cached while membership and health stand still."""
        key = self.world.version
        if key != self._cache_key or self.spec.slow_start:
            tasks, weights = self.in_service()
            self._cache = (np.array([t.id for t in tasks], np.int64), weights)
            self._cache_key = key
        return self._cache

    def counts(self) -> tuple[int, int]:
        """(healthy, unhealthy) registered targets, as HealthyHostCount/UnHealthyHostCount."""
        if self._counts_key == self.world.version:
            return self._counts
        self._counts_key = self.world.version
        self._counts = self._count()
        return self._counts

    def _count(self) -> tuple[int, int]:
        healthy = sum(1 for t in self.targets if t.health == "healthy")
        unhealthy = sum(1 for t in self.targets if t.health == "unhealthy")
        return healthy, unhealthy


class HealthChecker:
    """Probes one target every interval and moves it between initial/healthy/unhealthy."""

    def __init__(self, world: World, group: TargetGroup, task: Task):
        self.world = world
        self.group = group
        self.task = task
        self.hc = group.spec.health_check

    def run(self):
        world, task, hc = self.world, self.task, self.hc
        env = world.env
        passes = fails = 0
        when = env.now
        dataplane = world.dataplane
        while task.health in ("initial", "healthy", "unhealthy"):
            # A healthy target turns unhealthy only after unhealthy_threshold failures in a
            # row, and a pass changes nothing: when the failures so far are too few, no outcome
            # of this probe changes the target's state. Its outcome is then read when the next
            # probe is due, and the data plane serves it with its window, in a batch.
            defer = (
                task.health == "healthy"
                and fails + 1 < hc.unhealthy_threshold
                and dataplane.probes_deferrable
            )
            probe = dataplane.schedule_probe(task, when, hc.timeout, deferred=defer)
            if defer:
                when = probe.time + hc.interval
                yield env.timeout(max(0.0, when - env.now))
                if not probe.served:
                    dataplane.flush()
                if task.health not in ("initial", "healthy", "unhealthy"):
                    return
                passes, fails = (passes + 1, 0) if probe.passed() else (0, fails + 1)
                continue
            yield probe.done
            yield env.timeout(max(0.0, probe.result_at() - env.now))
            if task.health not in ("initial", "healthy", "unhealthy"):
                return
            if probe.passed():
                passes, fails = passes + 1, 0
            else:
                passes, fails = 0, fails + 1
            self._update(passes, fails, probe)
            when = probe.time + hc.interval
            yield env.timeout(max(0.0, when - env.now))

    def _update(self, passes: int, fails: int, probe) -> None:
        world, task, hc = self.world, self.task, self.hc
        state = task.health
        if state == "initial" and passes >= hc.initial_checks_required:
            self._become("healthy", f"passed {passes} initial check(s)")
        elif state == "unhealthy" and passes >= hc.healthy_threshold:
            self._become("healthy", f"{passes} consecutive checks passed")
        elif state in ("initial", "healthy") and fails >= hc.unhealthy_threshold:
            self._become("unhealthy", f"{fails} consecutive checks failed ({probe.reason()})")
            world.ecs_replace_unhealthy(task)

    def _become(self, state: str, why: str) -> None:
        task, world = self.task, self.world
        task.health = state
        if state == "healthy":
            first = task.healthy_at is None
            task.healthy_at = world.env.now
            # Slow start applies only if another healthy target is out of slow start, and not
            # to a target registered into an empty group in one operation (ALB-UG).
            slow = self.group.spec.slow_start
            task.slow_start = (
                bool(slow)
                and not task.slow_start_exempt
                and any(
                    t is not task
                    and t.health == "healthy"
                    and not (t.slow_start and world.env.now - t.healthy_at < slow)
                    for t in self.group.targets
                )
            )
            if task.slow_start:
                why += f"; slow start {slow:g}s"
            if first:
                for callback in list(task.task_set.on_task_healthy):
                    callback(task)
        world.log("alb", f"target {state}", f"{task.name}: {why}")
        if state == "healthy":
            task.task_set.reconcile()  # a replacement is healthy: its unhealthy task may go


class ApplicationLoadBalancer:
    """The load balancer: one production listener (and perhaps a test listener), two groups."""

    def __init__(self, world: World, spec: LoadBalancerSpec):
        self.spec = spec
        self.listener = Listener(world, spec.test_listener)
        self.groups = {rev: TargetGroup(world, rev, spec) for rev in ("blue", "green")}
        # True during an ECS rolling update: both revisions' tasks in blue's group
        self.shared_target_group = False

    def target_group(self, revision: str) -> TargetGroup:
        return self.groups[revision]

"""``controller: ecs`` with ``strategy: ROLLING``: the ECS rolling update most services run.

There is no second target group and no listener change. ECS replaces the old revision's tasks by
the new revision's in batches, inside two bounds taken from the service's
``deploymentConfiguration`` (percent of the desired count N):

- ``minimumHealthyPercent`` (default 100): at least ⌈N × min / 100⌉ tasks stay RUNNING and
  healthy; old tasks are stopped only while that floor holds (tasks not yet, or no longer,
  healthy do not count and may be stopped at any time);
- ``maximumPercent`` (default 200): at most ⌊N × max / 100⌋ tasks are RUNNING or PENDING;
  new tasks start only up to that ceiling. Draining tasks (desired status STOPPED) do not count.

So 100 % / 200 % starts N new tasks and stops an old one as each new one turns healthy, while
50 % / 100 % first stops half the old tasks, starts as many new ones, and so on. The new tasks
register in the *same* target group as the old ones: each request meets the old or the new
revision by chance, in proportion to the targets in service. Results report a request by the
revision of the task that served it (``blue`` = old, ``green`` = new); the listener's
``green_weight`` stays 0 throughout.

The deployment circuit breaker counts new tasks that fail (to start, or their health checks) and
the deployment alarms are polled, as for the other ECS strategies; either can fail the
deployment. A rollback is the same rolling update run backwards, to the last completed revision:
old-revision tasks start again and the new ones are stopped as they become healthy, inside the
same bounds. A rolling update has no bake time unless ``bake_time`` is given (AWS:
"For rolling deployments, there is no bake time set by default").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..fargate import PENDING, PROVISIONING, RUNNING, STOPPED, TaskSet
from .ecs import DeploymentFailed, EcsDeployment

if TYPE_CHECKING:
    from ..fargate import Task

LIVE = (PROVISIONING, PENDING, RUNNING)


def rolling_bounds(
    desired: int, minimum_healthy_percent: int, maximum_percent: int
) -> tuple[int, int]:
    """(floor, ceiling): healthy tasks ECS keeps, and tasks it lets run, during a rolling update.

    ECS rounds the minimum up and the maximum down (BC ``DeploymentConfiguration``).

    Args:
        desired: the service's desired count N.
        minimum_healthy_percent: 0–100.
        maximum_percent: 100–200.

    Returns:
        ``(⌈N × min / 100⌉, ⌊N × max / 100⌋)``.
    """
    floor = math.ceil(desired * minimum_healthy_percent / 100 - 1e-9)
    ceiling = math.floor(desired * maximum_percent / 100 + 1e-9)
    return floor, ceiling


def _healthy(task: Task) -> bool:
    return task.state == RUNNING and task.health == "healthy"


class RollingDeployment(EcsDeployment):
    """ECS replacing the service's tasks in place, batch by batch, behind one target group."""

    name = "ecs"

    def __init__(self, world):
        super().__init__(world)
        spec = world.scenario.revision("blue")
        self.desired = spec.tasks
        self.floor, self.ceiling = rolling_bounds(
            self.desired, spec.minimum_healthy_percent, spec.maximum_percent
        )
        # "no bake time set by default" for rolling deployments
        self.bake = self.spec.bake_seconds

    def describe(self) -> str:
        spec = self.world.scenario.revision("blue")
        return (
            f"strategy ROLLING, minimum healthy {spec.minimum_healthy_percent}% "
            f"({self.floor} task(s)), maximum {spec.maximum_percent}% ({self.ceiling} task(s))"
        )

    # -- the process ---------------------------------------------------------------------
    def run(self):
        world = self.world
        yield world.env.timeout(self.spec.start)
        self.begin()
        # One target group serves both revisions: the data plane reports a request by the
        # revision of the task that served it, the timeline counts healthy tasks per revision.
        world.dataplane.mixed_revisions = True
        world.alb.shared_target_group = True
        self._start_alarm_monitoring()
        try:
            yield from self._deploy()
        except DeploymentFailed as failure:
            yield from self._fail_rolling(failure)

    def _deploy(self):
        world = self.world
        blue = world.task_sets["blue"]
        spec = world.scenario.revision("green")
        green = TaskSet(world, "green", spec, self.desired)
        green.group = "blue"  # the new revision's tasks join the one production target group
        world.task_sets["green"] = green
        self.green = green
        blue.active = False  # from now on lost capacity is made up with the new revision
        # While the update runs this controller keeps the service's bounds for both revisions
        # (it starts replacements first, within minimum/maximum percent): the task sets must
        # not also fill themselves up to their desired counts on their own.
        managed = world.unhealthy_replacement()
        blue.replacement = green.replacement = "stop_first"
        self.log("new task definition", f"{self.desired} task(s) to replace in target group blue")
        self._start_circuit_breaker(green)
        green.on_task_healthy.append(self._first_new_healthy)
        yield from self._replace(blue, green, forward=True)
        green.replacement = managed  # the new revision is the service now
        self.log("steady state", f"{self.desired} new task(s) running and healthy")
        if self.bake:
            self.stage("BAKE_TIME", detail=f"{self.bake / 60:g}m")
            yield from self._hold(self.bake)
        self._stop_monitoring()
        self.finish("SUCCEEDED", "rolling update complete")

    def _first_new_healthy(self, task: Task) -> None:
        if self.green is not None and self.green.active:
            self.world.reach("production_traffic")

    # -- the batches ---------------------------------------------------------------------
    def _replace(self, old: TaskSet, new: TaskSet, *, forward: bool):
        """Stop ``old``'s tasks and start ``new``'s until N new tasks are healthy, in bounds.

        Every second: stop old tasks that are not healthy, then healthy old ones while at least
        ``floor`` healthy tasks would remain; start new tasks while fewer than ``ceiling`` run
        and fewer than N new ones exist. ``forward``: the monitors may fail the deployment.
        """
        env = self.world.env
        batch = 0
        while True:
            old_live = [t for t in old.tasks if t.state in LIVE]
            new_live = [t for t in new.tasks if t.state in LIVE]
            healthy_new = sum(1 for t in new_live if _healthy(t))
            if not old_live and healthy_new >= self.desired:
                return
            healthy_old = [t for t in old_live if _healthy(t)]
            spare = len(healthy_old) + healthy_new - self.floor
            stop = [t for t in old_live if not _healthy(t)] + healthy_old[: max(0, spare)]
            room = self.ceiling - (len(old_live) - len(stop)) - len(new_live)
            start = max(0, min(room, self.desired - len(new_live)))
            if stop or start:
                batch += 1
                self.log(
                    "rolling batch",
                    f"{batch}: stop {len(stop)} {old.revision}, start {start} {new.revision} "
                    f"({healthy_new + len(healthy_old)} healthy)",
                )
            for task in stop:
                old.stop_task(task, "replaced (rolling update)", replace=False)
            for _ in range(start):
                new.launch()
            if forward and stop and not any(t.state in LIVE for t in old.tasks):
                self.world.reach("full_traffic")  # no old task is left in service
            if forward:
                yield env.timeout(1.0) | self.alarm_tripped | self.breaker_tripped
                self._check()
            else:
                yield env.timeout(1.0)

    # -- endings -----------------------------------------------------------------------------
    def _fail_rolling(self, failure: DeploymentFailed):
        """Roll back to the last completed revision by a rolling update, or stop here."""
        self.breaker_on = False
        if not failure.rollback:
            self.stop_here(failure.reason)
            self.finish("FAILED", failure.reason)
            return
        world = self.world
        now = world.env.now
        self.record.rollback_start = now
        if self.record.stopped_at is None:
            self.record.stopped_at = now
        self.record.reason = failure.reason
        self.stop_watching()
        self.log("ROLLBACK_REQUESTED", failure.reason)
        blue, green = world.task_sets["blue"], self.green
        green.active = False  # failed new tasks are no longer replaced
        blue.active = True
        self.log("ROLLBACK_IN_PROGRESS", "rolling back to the last completed revision (blue)")
        yield from self._replace(green, blue, forward=False)
        blue.replacement = world.unhealthy_replacement()  # blue is the service again
        while any(t.state != STOPPED for t in green.tasks):
            yield world.env.timeout(1.0)
        self.log("ROLLBACK_SUCCESSFUL", f"{self.desired} blue task(s) running and healthy")
        self.finish("ROLLED_BACK", failure.reason)

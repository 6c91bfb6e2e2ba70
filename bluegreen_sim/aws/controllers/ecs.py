"""``controller: ecs``: the Amazon ECS deployment controller (BLUE_GREEN, LINEAR, CANARY).

The ECS-native controller walks the service deployment's lifecycle stages, in the order the
ECS API documents them:

RECONCILE_SERVICE → PRE_SCALE_UP → SCALE_UP → POST_SCALE_UP → TEST_TRAFFIC_SHIFT →
POST_TEST_TRAFFIC_SHIFT → (PRE_PRODUCTION_TRAFFIC_SHIFT → PRODUCTION_TRAFFIC_SHIFT, at every
traffic shift step) → POST_PRODUCTION_TRAFFIC_SHIFT → BAKE_TIME → CLEAN_UP.

- SCALE_UP: the green service revision scales up to 100 % and launches its tasks; it serves no
  traffic yet. The stage ends when every green task is running and healthy.
- Production traffic moves by the deployment strategy: BLUE_GREEN all at once; LINEAR by
  ``step_percent`` with a ``step_bake_time`` between steps ("not applied after reaching 100
  percent traffic"); CANARY ``canary_percent`` first, the rest after ``canary_bake_time``.
- BAKE_TIME: both revisions run for ``bake_time`` (15 min by default) after the production shift,
  so a rollback is only a listener change.
- CLEAN_UP: the blue revision scales down to 0 running tasks; no rollback is possible any more.

Lifecycle hooks (a Lambda, a test-traffic probe, or a PAUSE an operator continues) run on the
hookable stages; one that fails rolls the deployment back, one that times out rolls back or lets
the deployment continue as its ``timeout_action`` says.

Two monitors can fail the deployment at any stage until CLEAN_UP: the deployment circuit breaker
(green tasks that stop before they were ever healthy: they fail to start or fail their health
checks, against a threshold; a task that was healthy and then stops does not count) and the
deployment alarms (any alarm in ALARM). Each rolls back if its ``rollback`` option is set;
otherwise the deployment stops where it is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..fargate import STOPPED, Task, circuit_breaker_threshold
from .base import Deployment
from .hooks import ECS_HOOK_TIMEOUT

if TYPE_CHECKING:
    from ...engine.simulation import World
    from ...scenario import CanaryConfig, LinearConfig


# --------------------------------------------------------------------------------------------
# The traffic shift schedule (pure functions)


def _tenths(percent: float) -> int:
    """A percentage in whole tenths: ECS percentages are multiples of 0.1."""
    return round(percent * 10)


def linear_step_count(step_percent: float) -> int:
    """The number of LINEAR deployment steps, i.e. of step bakes, as ECS counts them.

    AWS: "If StepPercent evenly divides by 100: the number of deployment steps equals
    (100 ÷ StepPercent) − 1. Otherwise: the floor of 100 ÷ StepPercent." (11 % → 9, 50 % → 1.)

    Args:
        step_percent: the linear step, 3–100 %, a multiple of 0.1.

    Returns:
        How many step bakes the deployment has (no bake follows the 100 % shift).
    """
    step = _tenths(step_percent)
    if step <= 0:
        raise ValueError("step_percent must be > 0")
    if 1000 % step == 0:
        return 1000 // step - 1
    return 1000 // step


def ecs_shift_schedule(
    strategy: str, linear: LinearConfig | None = None, canary: CanaryConfig | None = None
) -> list[tuple[float, float]]:
    """The production traffic shifts of an ECS deployment, as ``(offset_s, green_percent)``.

    Offsets count from the first production shift and include only the step bakes (hooks at
    each step add their own run time in a real deployment).

    - ``BLUE_GREEN``: ``[(0, 100)]``.
    - ``LINEAR``: shift k = 1…⌈100/p⌉ to min(k·p, 100) %, a step bake between shifts, none
      after 100 %, so there are :func:`linear_step_count` bakes. (That the last shift carries the
      remainder is the project's reading of the documented step count.)
    - ``CANARY``: ``canary_percent`` at 0, 100 % after ``canary_bake_time`` (a 100 % canary is
      a single shift).

    Args:
        strategy: ``BLUE_GREEN``, ``LINEAR`` or ``CANARY``.
        linear: the LINEAR configuration (needed for LINEAR).
        canary: the CANARY configuration (needed for CANARY).

    Returns:
        The shifts in order; percentages are floats with 0.1 granularity.
    """
    if strategy == "BLUE_GREEN":
        return [(0.0, 100.0)]
    if strategy == "LINEAR":
        if linear is None:
            raise ValueError("LINEAR needs a linear configuration")
        step = _tenths(linear.step_percent)
        shifts = math.ceil(1000 / step)
        return [
            ((k - 1) * linear.step_bake_time, min(k * step, 1000) / 10)
            for k in range(1, shifts + 1)
        ]
    if strategy == "CANARY":
        if canary is None:
            raise ValueError("CANARY needs a canary configuration")
        first = _tenths(canary.canary_percent) / 10
        if first >= 100:
            return [(0.0, 100.0)]
        return [(0.0, first), (canary.canary_bake_time, 100.0)]
    raise ValueError(f"unknown ECS deployment strategy {strategy!r}")


# --------------------------------------------------------------------------------------------
# The controller


class DeploymentFailed(Exception):
    """Something failed the deployment: a hook, the circuit breaker or an alarm."""

    def __init__(self, reason: str, rollback: bool):
        super().__init__(reason)
        self.reason = reason
        self.rollback = rollback


class EcsDeployment(Deployment):
    """The ECS deployment controller walking one service deployment's lifecycle stages."""

    name = "ecs"

    def __new__(cls, world: World):
        # strategy ROLLING has no second target group: its own controller (rolling.py)
        if cls is EcsDeployment and world.scenario.deployment.strategy == "ROLLING":
            from .rolling import RollingDeployment

            return super().__new__(RollingDeployment)
        return super().__new__(cls)

    def __init__(self, world: World):
        super().__init__(world)
        env = world.env
        self.breaker_tripped = env.event()
        self.breaker_on = False
        self.failed_task_count = 0
        self.breaker_threshold: int | None = None

    def describe(self) -> str:
        spec = self.spec
        if spec.strategy == "LINEAR":
            how = f"LINEAR {spec.linear.step_percent:g}% every {spec.linear.step_bake_time / 60:g}m"
        elif spec.strategy == "CANARY":
            how = (
                f"CANARY {spec.canary.canary_percent:g}% then 100% after "
                f"{spec.canary.canary_bake_time / 60:g}m"
            )
        else:
            how = "BLUE_GREEN"
        return f"strategy {how}, bake time {spec.bake_seconds / 60:g}m"

    # -- the process -------------------------------------------------------------------
    def run(self):
        yield self.world.env.timeout(self.spec.start)
        self.begin()
        self._start_alarm_monitoring()
        try:
            yield from self._deploy()
        except DeploymentFailed as failure:
            yield from self._fail(failure)

    def _deploy(self):
        spec = self.spec
        yield from self._hookable_stage(
            "RECONCILE_SERVICE", "one ACTIVE service revision (blue): nothing to reconcile"
        )
        yield from self._hookable_stage("PRE_SCALE_UP", "blue serves 100% of production traffic")

        self.stage("SCALE_UP", detail="green service revision scales up to 100%")
        yield from self._scale_up()

        yield from self._hookable_stage("POST_SCALE_UP", "green running, no traffic yet")

        self.stage("TEST_TRAFFIC_SHIFT", detail="test traffic 0% → 100% to green")
        self.allow_test_traffic()
        yield from self._run_hook("TEST_TRAFFIC_SHIFT")

        yield from self._hookable_stage(
            "POST_TEST_TRAFFIC_SHIFT", "green handles 100% of test traffic"
        )

        schedule = ecs_shift_schedule(spec.strategy, spec.linear, spec.canary)
        for number, (offset, percent) in enumerate(schedule, start=1):
            step = f"step {number}/{len(schedule)}: green {percent:g}%"
            yield from self._hookable_stage("PRE_PRODUCTION_TRAFFIC_SHIFT", step)
            self.stage("PRODUCTION_TRAFFIC_SHIFT", detail=step)
            self.shift_production(percent, f"{spec.strategy} step {number}/{len(schedule)}")
            yield from self._run_hook("PRODUCTION_TRAFFIC_SHIFT")
            if number < len(schedule):
                # The step bake: the gap to the next shift. None follows the 100 % shift.
                bake = schedule[number][0] - offset
                self.log("step bake", f"green {percent:g}% for {bake:g}s")
                yield from self._hold(bake)

        yield from self._hookable_stage(
            "POST_PRODUCTION_TRAFFIC_SHIFT", "green serves 100% of production traffic"
        )

        self.stage(
            "BAKE_TIME", detail=f"blue and green both running for {spec.bake_seconds / 60:g}m"
        )
        yield from self._hold(spec.bake_seconds)

        # From here on the deployment can no longer be rolled back.
        self.stage("CLEAN_UP", detail="blue service revision scales down to 0")
        self._stop_monitoring()
        yield self.world.task_sets["blue"].remove("scaled down to 0 (CLEAN_UP)")
        self.log("SUCCESSFUL", "blue scaled down to 0 running tasks")
        self.finish("SUCCEEDED", f"{spec.strategy} deployment complete")

    # -- stages, hooks and waits -------------------------------------------------------------
    def _hookable_stage(self, name: str, detail: str = ""):
        """Enter a stage whose only work is its lifecycle hook (if one is configured)."""
        self.stage(name, detail=detail)
        yield from self._run_hook(name)

    def _run_hook(self, stage: str):
        """Run the stage's hook; a failure, or a monitor tripping meanwhile, fails the deployment.

        ECS rolls back when a hook fails; a hook that times out rolls back or lets the deployment
        continue, as its ``timeout_action`` says.
        """
        self._check()
        hook = self.spec.hooks.get(stage)
        if hook is None:
            return
        timeout = hook.timeout if hook.timeout is not None else ECS_HOOK_TIMEOUT
        running = self.world.env.process(self.hook(stage, timeout))
        yield running | self.alarm_tripped | self.breaker_tripped
        self._check()
        result = running.value
        if result.ok:
            return
        if result.status == "TimedOut" and hook.timeout_action == "CONTINUE":
            self.log("hook timed out: CONTINUE", f"{stage}: the deployment goes on")
            return
        raise DeploymentFailed(f"{stage} hook {result.status.lower()}", rollback=True)

    def _hold(self, seconds: float):
        """Wait ``seconds``; the circuit breaker or an alarm cuts the wait short."""
        env = self.world.env
        yield env.timeout(seconds) | self.alarm_tripped | self.breaker_tripped
        self._check()

    def _scale_up(self):
        """Launch the green tasks and wait until all of them are running and healthy."""
        env, spec = self.world.env, self.spec
        green = self.create_green()
        self._start_circuit_breaker(green)
        deadline = env.now + spec.install_timeout
        while not green.is_steady():
            if env.now >= deadline:
                raise DeploymentFailed(
                    f"green did not reach steady state within {spec.install_timeout:g}s",
                    rollback=True,
                )
            step = env.timeout(min(1.0, deadline - env.now))
            yield step | self.alarm_tripped | self.breaker_tripped
            self._check()
        self.log("green steady", f"{len(green.healthy())} task(s) running and healthy")

    def _check(self) -> None:
        """Raise :class:`DeploymentFailed` if a monitor has failed the deployment."""
        if self.breaker_tripped.triggered:
            raise DeploymentFailed(
                f"circuit breaker: {self.failed_task_count} failed task(s) "
                f"(threshold {self.breaker_threshold})",
                rollback=self.spec.circuit_breaker.rollback,
            )
        if self.alarm_tripped.triggered:
            raise DeploymentFailed(
                f"alarm {self.tripped_alarm} in ALARM", rollback=self.spec.alarm_rollback
            )

    # -- monitors -------------------------------------------------------------------------
    def _start_alarm_monitoring(self) -> None:
        # AWS: "If an alarm is in the ALARM state at the beginning of a deployment, Amazon ECS
        # will not monitor alarms for the duration of that deployment."
        self.watch_alarms(skip_already_in_alarm=True)
        if self.monitoring:
            self.log("alarms MONITORING", ", ".join(self.spec.alarms))

    def _start_circuit_breaker(self, green) -> None:
        cb = self.spec.circuit_breaker
        if not cb.enable:
            return
        self.breaker_threshold = circuit_breaker_threshold(
            green.desired, cb.threshold.type, cb.threshold.value
        )
        self.breaker_on = True
        green.on_task_failed.append(self._task_failed)
        green.on_task_healthy.append(self._task_healthy)
        self.log(
            "circuit breaker MONITORING",
            f"failed-task threshold {self.breaker_threshold} "
            f"({cb.threshold.type} {cb.threshold.value}, desired {green.desired})",
        )

    def _task_failed(self, task: Task) -> None:
        if not self.breaker_on or self.breaker_tripped.triggered:
            return
        cb = self.spec.circuit_breaker
        if cb.counting == "documented" and task.healthy_at is not None:
            # A task that passed its health checks and then stopped is not a failed launch:
            # "the circuit breaker might not activate" (AWS knowledge centre).
            self.log("circuit breaker ignores", f"{task.name} stopped after it was healthy")
            return
        self.failed_task_count += 1
        self.log(
            "circuit breaker count",
            f"{task.name} failed: {self.failed_task_count}/{self.breaker_threshold}",
        )
        if self.failed_task_count >= self.breaker_threshold:
            self.log("circuit breaker TRIGGERED", f"{self.failed_task_count} failed task(s)")
            self.breaker_tripped.succeed(self.failed_task_count)

    def _task_healthy(self, task: Task) -> None:
        # resetOnHealthyTask: "a task that reaches a healthy state resets the failure count to 0".
        if self.breaker_on and self.spec.circuit_breaker.reset_on_healthy_task:
            if self.failed_task_count:
                self.log("circuit breaker reset", f"{task.name} healthy: count 0")
            self.failed_task_count = 0

    def _stop_monitoring(self) -> None:
        if self.monitoring or self.breaker_on:
            self.log("monitors MONITORING_COMPLETE", "alarms and circuit breaker no longer watched")
        self.stop_watching()
        self.breaker_on = False

    # -- endings ----------------------------------------------------------------------------
    def _fail(self, failure: DeploymentFailed):
        """Roll back (production to blue at once, green scaled to 0), or stop where it is."""
        self.breaker_on = False
        if not failure.rollback:
            self.stop_here(failure.reason)
            self.finish("FAILED", failure.reason)
            return
        self.log("ROLLBACK_REQUESTED", failure.reason)
        self.roll_back(failure.reason)
        self.log("ROLLBACK_IN_PROGRESS", "production traffic 100% to blue; green scaling to 0")
        env = self.world.env
        while self.green is not None and any(t.state != STOPPED for t in self.green.tasks):
            yield env.timeout(1.0)
        self.log("ROLLBACK_SUCCESSFUL", "green scaled down to 0 running tasks")
        self.finish("ROLLED_BACK", failure.reason)

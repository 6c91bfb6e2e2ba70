"""What every deployment controller shares: the record of a deployment and its verbs.

A controller is a SimPy process (:meth:`Deployment.run`) that reads like the AWS documentation.
It acts on the world only through the verbs here: create the green task set, wait until it is
ready, move production traffic, route test traffic, watch alarms, roll back, remove a task set.
The simulation core knows controllers only through this interface, so CodeDeploy, ECS and the
generic steps controller plug in without touching it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from ...engine.probes import late_timeout
from ..fargate import TaskSet
from .hooks import HookResult, run_hook

if TYPE_CHECKING:
    from ...engine.simulation import World
    from ...scenario import DeploymentSpec, HookSpec


class DeploymentRecord:
    """What the summary reports about the deployment."""

    def __init__(self, controller: str):
        self.controller = controller
        self.outcome = "NO_DEPLOYMENT" if controller == "none" else "IN_PROGRESS"
        self.start: float | None = None
        self.end: float | None = None
        self.rollback_start: float | None = None
        self.stopped_at: float | None = None  # rollback or stop triggered (for time to detect)
        self.reason: str | None = None
        self.stages: list[dict[str, Any]] = []


class Deployment:
    """Base of all controllers: the shared verbs. Subclasses implement :meth:`run`."""

    name = "none"

    def __init__(self, world: World):
        self.world = world
        self.spec: DeploymentSpec = world.scenario.deployment
        self.record = world.deployment
        self.green: TaskSet | None = None
        self.monitoring = False  # alarms are watched (polled) while True
        self.alarm_tripped: simpy.Event = world.env.event()
        self.tripped_alarm: str | None = None

    # -- the process -------------------------------------------------------------------
    def run(self):
        """Nothing to deploy: blue alone serves the run."""
        return
        yield  # a generator all the same

    # -- verbs -----------------------------------------------------------------------------
    def log(self, event: str, detail: str = "") -> None:
        self.world.log(self.name, event, detail)

    def stage(self, name: str, status: str = "started", detail: str = "") -> None:
        """Record a lifecycle event / stage transition with AWS's name."""
        self.record.stages.append({"time_s": self.world.env.now, "stage": name, "status": status})
        self.log(f"{name} {status}" if status else name, detail)

    def begin(self) -> None:
        self.record.start = self.world.env.now
        self.log("deployment started", self.describe())
        self.world.reach("deployment_start")

    def describe(self) -> str:
        return ""

    def create_green(self) -> TaskSet:
        """Create the replacement (green) task set at blue's desired count."""
        world = self.world
        spec = world.scenario.revision("green")
        ts = TaskSet(world, "green", spec, spec.tasks)
        world.task_sets["green"] = ts
        self.green = ts
        self.log("green task set created", f"{spec.tasks} task(s)")
        ts.start_all()
        world.env.process(self._announce_running(ts))
        return ts

    def _announce_running(self, ts: TaskSet):
        env = self.world.env
        while len(ts.running()) < ts.desired and ts.active:
            yield env.timeout(1.0)
        if ts.active:
            self.log("green tasks running", f"{len(ts.running())} running")
            self.world.reach("green_running")

    def wait_green_ready(self, timeout: float):
        """SimPy generator: wait until every green task is running and healthy.

        Returns True when ready, False if ``timeout`` passed first.
        """
        env = self.world.env
        deadline = env.now + timeout
        while not self.green.is_steady():
            if env.now >= deadline:
                return False
            yield env.timeout(min(1.0, deadline - env.now))
        return True

    def shift_production(self, percent: float, why: str = "") -> None:
        """Forward ``percent`` of production traffic to green."""
        world = self.world
        before = world.listener.green_weight
        world.listener.set_green_weight(percent, why)
        if before == 0 and percent > 0:
            world.reach("production_traffic")
        if percent >= 100:
            world.reach("full_traffic")

    def allow_test_traffic(self) -> None:
        listener = self.world.listener
        listener.test_traffic_to_green = True
        if listener.has_test_listener:
            self.log("test traffic routed to green", "test listener → green target group")
        else:
            self.log("no test listener", "test hooks use the production listener")
        self.world.reach("test_traffic")

    def hook(self, name: str, timeout: float):
        """SimPy generator: run the hook configured for ``name`` (None if there is none)."""
        spec: HookSpec | None = self.spec.hooks.get(name)
        if spec is None:
            return None
        result: HookResult = yield from run_hook(self.world, name, spec, timeout)
        return result

    # -- alarms ---------------------------------------------------------------------------
    def watch_alarms(self, names: list[str] | None = None, *, skip_already_in_alarm=False):
        """Start polling the deployment's alarms every ``alarm_poll_interval``."""
        names = list(self.spec.alarms if names is None else names)
        if skip_already_in_alarm:
            in_alarm = [n for n in names if self.world.alarms[n].state == "ALARM"]
            if in_alarm:
                self.log(
                    "alarms not monitored",
                    f"{', '.join(in_alarm)} already in ALARM at the start (AWS rule)",
                )
                return
        if not names:
            return
        self.monitoring = True
        self.world.env.process(self._poll_alarms(names))

    def _poll_alarms(self, names: list[str]):
        env = self.world.env
        # Poll after the alarms evaluated at the same instant (their state is then current):
        # both land on whole minutes, and SimPy would otherwise order them by chance.
        yield late_timeout(env, 0.0)
        while self.monitoring:
            firing = [n for n in names if self.world.alarms[n].state == "ALARM"]
            if firing and not self.alarm_tripped.triggered:
                self.tripped_alarm = firing[0]
                self.log("alarm detected", f"{', '.join(firing)} in ALARM")
                self.alarm_tripped.succeed(firing[0])
                return
            yield late_timeout(env, self.spec.alarm_poll_interval)

    def stop_watching(self) -> None:
        self.monitoring = False

    def wait(self, seconds: float):
        """SimPy generator: wait ``seconds`` unless an alarm trips; True if the wait ended."""
        env = self.world.env
        timer = env.timeout(seconds)
        yield timer | self.alarm_tripped
        return not self.alarm_tripped.triggered

    # -- endings --------------------------------------------------------------------------
    def roll_back(self, reason: str) -> None:
        """Production traffic back to blue at once; green drained and removed."""
        world = self.world
        now = world.env.now
        self.record.rollback_start = now
        if self.record.stopped_at is None:
            self.record.stopped_at = now
        self.record.reason = reason
        self.stop_watching()
        self.log("rollback started", reason)
        delay = self.spec.rollback_reroute_delay
        if delay > 0:
            # green is scaled down first and the weights move back ``delay`` s later;
            # meanwhile green's group has no registered target and its share gets 503s.
            self.log("reroute to blue delayed", f"{delay:g}s after green is scaled down")
            world.env.process(self._reroute_later(delay))
        else:
            world.listener.set_green_weight(0.0, "rollback")
        world.listener.test_traffic_to_green = False
        if self.green is not None:
            self.green.remove("rolled back")

    def _reroute_later(self, delay: float):
        yield self.world.env.timeout(delay)
        self.world.listener.set_green_weight(0.0, "rollback")

    def stop_here(self, reason: str) -> None:
        """Stop without rollback: components remain in their current state."""
        if self.record.stopped_at is None:
            self.record.stopped_at = self.world.env.now
        self.record.reason = reason
        self.stop_watching()
        self.log("no rollback", f"{reason}; components stay as they are")

    def finish(self, outcome: str, detail: str = "") -> None:
        self.record.outcome = outcome
        self.record.end = self.world.env.now
        self.stop_watching()
        self.log(f"deployment {outcome.lower().replace('_', ' ')}", detail)


class NoDeployment(Deployment):
    """``controller: none``: blue alone, no deployment."""

    name = "none"

"""``controller: codedeploy``: an AWS CodeDeploy blue/green deployment of an Amazon ECS service.

The controller walks CodeDeploy's lifecycle events for ECS in the documented order (CodeDeploy
user guide, ``deployment-steps-ecs.md``)::

    BeforeInstall → Install → AfterInstall → AllowTestTraffic → AfterAllowTestTraffic
      → BeforeAllowTraffic → AllowTraffic → AfterAllowTraffic → (termination wait) → End

* **Install** creates the replacement (green) task set and waits until its tasks are running
  and healthy in the green target group; CodeDeploy waits up to an hour for this
  (``install_timeout``), after which the deployment fails.
* **AllowTestTraffic** routes the test listener to the green target group. Without a test
  listener "nothing happens during the AfterAllowTestTraffic hook", so that hook is skipped.
* With ``deploymentReadyOption`` ``STOP_DEPLOYMENT`` the deployment then waits for an operator's
  ``ContinueDeployment`` before it reroutes production traffic; if nobody continues within the
  wait, its status becomes Stopped.
* **AllowTraffic** moves production traffic by the deployment configuration's schedule (see
  :func:`shift_schedule`).
* After **AfterAllowTraffic** the blue task set keeps running for the termination wait, during
  which alarms are still watched and can roll back. "Once CodeDeploy begins to terminate the
  'blue' ECS task set, the deployment can no longer be rolled back."

The five hooks (``BeforeInstall``, ``AfterInstall``, ``AfterAllowTestTraffic``,
``BeforeAllowTraffic``, ``AfterAllowTraffic``) may each be a probe or a Lambda function; a hook
that fails, or does not report within one hour, fails the deployment. The deployment's alarms
are polled from the start of Install until blue removal begins; an alarm in ALARM stops the
deployment. Automatic rollback (``DEPLOYMENT_FAILURE``, ``DEPLOYMENT_STOP_ON_ALARM``) reroutes
production traffic to blue at once and removes green; without it the deployment stops where it
is (status Failed after a failure, Stopped after an alarm).
"""

from __future__ import annotations

import math

import simpy

from ...scenario import TrafficRouting
from .base import Deployment
from .hooks import CODEDEPLOY_HOOK_TIMEOUT, HookResult

FAILURE = "DEPLOYMENT_FAILURE"
STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"


def shift_schedule(kind: str, percentage: float, interval_s: float) -> list[tuple[float, float]]:
    """When AllowTraffic moves production traffic, and to what share.

    Offsets are seconds from the start of the AllowTraffic lifecycle event; percentages are the
    share of production traffic forwarded to green from that moment on.

    * ``AllAtOnce``: ``[(0, 100)]``: "Shifts all traffic ... at once."
    * ``TimeBasedCanary``: ``[(0, p), (interval, 100)]``: "Traffic is shifted in two
      increments": ``p`` % first, the rest ``interval`` later.
    * ``TimeBasedLinear``: shift *k* (k = 1 … ⌈100/p⌉) at (k−1)·interval to min(k·p, 100) %.
      This is the project's stated reading of the API's "the percentage of traffic that is
      shifted at the start of each increment": the first increment starts at once, so 10 %
      every minute reaches 100 % after nine minutes; a remainder (30 % → 30/60/90/100) is
      shifted in a last, smaller increment. AWS documents neither the first-increment time
      nor the remainder rule.

    Args:
        kind: ``AllAtOnce``, ``TimeBasedCanary`` or ``TimeBasedLinear``.
        percentage: the canary or linear percentage (ignored for ``AllAtOnce``).
        interval_s: the canary or linear interval in seconds (ignored for ``AllAtOnce``).

    Returns:
        ``[(offset_s, green_percent), ...]`` in time order, ending at 100 %.

    Raises:
        ValueError: an unknown kind, or a percentage outside (0, 100].
    """
    if kind == "AllAtOnce":
        return [(0.0, 100.0)]
    if not 0 < percentage <= 100:
        raise ValueError(f"percentage must be in (0, 100], got {percentage!r}")
    if interval_s < 0:
        raise ValueError(f"interval must be >= 0, got {interval_s!r}")
    if kind == "TimeBasedCanary":
        if percentage >= 100:
            return [(0.0, 100.0)]
        return [(0.0, float(percentage)), (float(interval_s), 100.0)]
    if kind == "TimeBasedLinear":
        # A small tolerance keeps 100/33.3333… from making a 4th increment of rounding noise.
        increments = math.ceil(100.0 / percentage - 1e-9)
        return [
            ((k - 1) * float(interval_s), float(min(k * percentage, 100.0)))
            for k in range(1, increments + 1)
        ]
    raise ValueError(
        f"unknown traffic routing type {kind!r}; expected AllAtOnce, TimeBasedCanary "
        "or TimeBasedLinear"
    )


class _Stop(Exception):
    """Raised inside :meth:`CodeDeployDeployment.run` to end the deployment early."""


class CodeDeployDeployment(Deployment):
    """An ECS blue/green deployment driven by AWS CodeDeploy (deployment controller CODE_DEPLOY)."""

    name = "codedeploy"

    def __init__(self, world):
        super().__init__(world)
        self.current_event: str | None = None  # the lifecycle event in progress
        self.waiting_in: str | None = None  # the ready wait or the termination wait

    def describe(self) -> str:
        spec = self.spec
        kind, pct, interval = spec.traffic_routing()
        if isinstance(spec.config, TrafficRouting):
            name = f"custom {kind}"
            if kind == "TimeBasedCanary":
                name += f" {pct}%, the rest after {_minutes(interval)}"
            elif kind == "TimeBasedLinear":
                name += f" {pct}% every {_minutes(interval)}"
        else:
            name = spec.config
        parts = [f"config {name}"]
        if spec.auto_rollback:
            parts.append("auto rollback on " + ", ".join(spec.auto_rollback))
        if spec.alarms:
            parts.append("alarms " + ", ".join(spec.alarms))
        return "; ".join(parts)

    def schedule(self) -> list[tuple[float, float]]:
        """The AllowTraffic schedule of this deployment's configuration."""
        return shift_schedule(*self.spec.traffic_routing())

    # -- the process -------------------------------------------------------------------------
    def run(self):
        """SimPy process: the lifecycle events in order, then the termination wait and End."""
        env, spec = self.world.env, self.spec
        yield env.timeout(spec.start)
        self.begin()
        try:
            # BeforeInstall: no replacement task set exists yet, so a failure cannot roll back.
            yield from self._hook_event("BeforeInstall", rollback_possible=False)
            yield from self._install()
            yield from self._hook_event("AfterInstall")
            self._event_started("AllowTestTraffic")
            self.allow_test_traffic()
            self._event_succeeded("AllowTestTraffic")
            if self.world.listener.has_test_listener:
                yield from self._hook_event("AfterAllowTestTraffic")
            else:
                ignored = " (its hook is ignored)" if "AfterAllowTestTraffic" in spec.hooks else ""
                self.stage(
                    "AfterAllowTestTraffic",
                    "skipped",
                    "no test listener: nothing happens during the AfterAllowTestTraffic hook"
                    + ignored,
                )
            yield from self._ready_wait()
            yield from self._hook_event("BeforeAllowTraffic")
            yield from self._allow_traffic()
            yield from self._hook_event("AfterAllowTraffic")
            yield from self._termination_wait()
        except _Stop:
            return
        self._remove_blue()

    # -- lifecycle events ----------------------------------------------------------------------
    def _event_started(self, name: str, detail: str = "") -> None:
        self.current_event = name
        self.stage(name, "started", detail)

    def _event_succeeded(self, name: str, detail: str = "") -> None:
        self.stage(name, "succeeded", detail)
        self.current_event = None
        self._check_alarms()

    def _hook_event(self, name: str, *, rollback_possible: bool = True):
        """SimPy generator: a hookable lifecycle event; its hook (if any) must succeed."""
        self._event_started(name)
        if name not in self.spec.hooks:
            self._event_succeeded(name, "no hook configured")
            return
        result = yield from self._run_hook(name)
        if not result.ok:
            self.stage(name, "failed", f"hook {result.status.lower()}: {result.detail}")
            self._fail(f"{name} hook {result.status.lower()}", rollback_possible=rollback_possible)
        self._event_succeeded(name, f"hook succeeded: {result.detail}")

    def _run_hook(self, name: str):
        """SimPy generator: run the hook, stopping early if an alarm trips meanwhile."""
        env = self.world.env

        def body():
            try:
                return (yield from self.hook(name, CODEDEPLOY_HOOK_TIMEOUT))
            except simpy.Interrupt:
                return None

        proc = env.process(body())
        yield proc | self.alarm_tripped
        if not proc.triggered:
            # The deployment stops; its hook's report no longer matters.
            proc.interrupt("deployment stopped")
            self._check_alarms()
        result: HookResult = proc.value
        return result

    def _install(self):
        """SimPy generator: Install: the replacement task set, running and healthy."""
        env, spec = self.world.env, self.spec
        self._event_started("Install", "create the replacement (green) task set")
        # Alarms are watched from the start of Install until blue removal begins.
        self.watch_alarms()
        green = self.create_green()
        deadline = env.now + spec.install_timeout
        while not green.is_steady():
            if env.now >= deadline:
                self.stage(
                    "Install",
                    "failed",
                    f"green task set not steady after {spec.install_timeout:g}s "
                    f"({len(green.healthy())}/{green.desired} healthy)",
                )
                self._fail("green task set never became healthy")
            yield env.timeout(min(1.0, deadline - env.now)) | self.alarm_tripped
            self._check_alarms()
        self._event_succeeded(
            "Install", f"{len(green.healthy())} healthy target(s) in the green target group"
        )

    def _ready_wait(self):
        """SimPy generator: deploymentReadyOption: wait for ContinueDeployment, or go on."""
        env = self.world.env
        ready = self.spec.ready_wait
        if ready.action_on_timeout == "CONTINUE_DEPLOYMENT":
            return
        deadline = env.now + ready.wait
        self.waiting_in = "the ready wait"
        self.log(
            "ready: waiting for ContinueDeployment",
            f"STOP_DEPLOYMENT: production traffic is rerouted only when an operator continues "
            f"(wait {_minutes(ready.wait)})",
        )
        if ready.continue_at is not None and ready.continue_at <= deadline:
            yield from self.wait(max(0.0, ready.continue_at - env.now))
            self._check_alarms()
            self.waiting_in = None
            self.log("deployment continued", "ContinueDeployment (READY_WAIT)")
            return
        yield from self.wait(ready.wait)
        self._check_alarms()
        reason = f"nobody continued the deployment within the ready wait ({_minutes(ready.wait)})"
        self.stop_here(reason)
        self.finish("STOPPED", reason)
        raise _Stop

    def _allow_traffic(self):
        """SimPy generator: AllowTraffic: reroute production traffic by the schedule."""
        env = self.world.env
        schedule = self.schedule()
        start = env.now
        self._event_started(
            "AllowTraffic",
            " → ".join(f"{pct:g}% at +{_minutes(off)}" for off, pct in schedule),
        )
        for number, (offset, percent) in enumerate(schedule, start=1):
            if start + offset > env.now:
                yield from self.wait(start + offset - env.now)
            self._check_alarms()
            self.shift_production(percent, f"AllowTraffic shift {number}/{len(schedule)}")
        self._event_succeeded("AllowTraffic", "all production traffic on green")

    def _termination_wait(self):
        """SimPy generator: blue keeps running; alarms can still roll back."""
        wait = self.spec.termination_wait
        self.waiting_in = "the termination wait"
        self.log(
            f"termination wait {_minutes(wait)}",
            "blue task set kept; alarms still watched; a rollback is still possible",
        )
        yield from self.wait(wait)
        self._check_alarms()

    def _remove_blue(self) -> None:
        # From here on no rollback is possible, manual or automatic.
        self.stop_watching()
        self.world.task_sets["blue"].remove("original task set terminated")
        self.log(
            "blue task set removed",
            "its targets drain for the deregistration delay; no rollback possible any more",
        )
        self.finish("SUCCEEDED", "all lifecycle events succeeded; the original task set removed")

    # -- endings -------------------------------------------------------------------------------
    def _check_alarms(self) -> None:
        """Stop the deployment if a watched alarm has tripped."""
        if not self.alarm_tripped.triggered:
            return
        where = self.current_event or self.waiting_in or "the deployment"
        if self.current_event is not None:
            self.stage(self.current_event, "stopped", f"alarm {self.tripped_alarm}")
        reason = f"alarm {self.tripped_alarm} in ALARM during {where}"
        if STOP_ON_ALARM in self.spec.auto_rollback:
            self.roll_back(reason)
            self.finish("ROLLED_BACK", reason)
        else:
            # "If any of the specified alarms are activated, the deployment stops, and the
            # status is updated to Stopped."
            self.stop_here(reason)
            self.finish("STOPPED", reason)
        raise _Stop

    def _fail(self, reason: str, *, rollback_possible: bool = True) -> None:
        """The deployment fails: roll back if configured (and possible), else stay as it is."""
        if rollback_possible and FAILURE in self.spec.auto_rollback:
            self.roll_back(reason)
            self.finish("ROLLED_BACK", reason)
        else:
            if FAILURE in self.spec.auto_rollback:
                reason += " (a rollback is not possible at this point)"
            self.stop_here(reason)
            self.finish("FAILED", reason)
        raise _Stop


def _minutes(seconds: float) -> str:
    """``300`` → ``"5m"``, ``90`` → ``"1m30s"``, ``45`` → ``"45s"``."""
    minutes, rest = divmod(float(seconds), 60.0)
    if minutes and rest:
        return f"{minutes:g}m{rest:g}s"
    if minutes:
        return f"{minutes:g}m"
    return f"{rest:g}s"


__all__ = ["CodeDeployDeployment", "shift_schedule"]

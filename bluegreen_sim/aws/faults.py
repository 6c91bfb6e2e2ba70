"""What goes wrong, and when.

A fault applies to a revision's tasks (usually green), starts at a time from the start of the run
or from a deployment milestone (``deployment_start``, ``green_running``, ``test_traffic``,
``production_traffic``, ``full_traffic``), optionally ends, and may hit only a fraction of tasks
(each task is hit with that probability, drawn once). Faults set fields on the tasks; the data
plane reads them at every window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine.distributions import Sampler
from ..scenario import Distribution, FaultSpec

if TYPE_CHECKING:
    from ..engine.simulation import World
    from .fargate import Task

# How long a task of a crash loop stays up, when the scenario does not say.
DEFAULT_UPTIME = Distribution(distribution="uniform", low=5.0, high=30.0)


class ActiveFault:
    """A fault in force."""

    def __init__(self, spec: FaultSpec, started: float, number: int):
        self.spec = spec
        self.started = started
        self.number = number
        self.hits: dict[int, bool] = {}

    @property
    def revisions(self) -> tuple[str, ...]:
        if self.spec.kind == "dependency_outage" or self.spec.revision == "both":
            return ("blue", "green")
        return (self.spec.revision,)

    def label(self) -> str:
        s = self.spec
        return f"#{self.number} {s.kind} on {'/'.join(self.revisions)}"


class FaultEngine:
    """Starts and ends the scenario's faults and applies them to tasks."""

    def __init__(self, world: World):
        self.world = world
        self.active: list[ActiveFault] = []
        self.history: list[dict] = []
        sc = world.scenario
        blue, green = sc.revision("blue"), sc.revision("green")
        # A green that is worse than blue by configuration is a faulty release throughout.
        self.green_is_worse = green.error_rate > blue.error_rate or (
            Sampler(green.latency, sc).mean > Sampler(blue.latency, sc).mean
        )
        for number, spec in enumerate(sc.faults, start=1):
            world.env.process(self._run(spec, number))

    def _run(self, spec: FaultSpec, number: int):
        world = self.world
        if spec.after != "start":
            yield world.milestone(spec.after)
        yield world.env.timeout(spec.at)
        if spec.kind == "listener_reset":
            yield from self._listener_reset(spec, number)
            return
        fault = ActiveFault(spec, world.env.now, number)
        self.active.append(fault)
        world.log("fault", "fault started", fault.label() + _describe(spec))
        self.history.append(
            {"fault": number, "kind": spec.kind, "start_s": world.env.now, "end_s": None}
        )
        for task in self._live_tasks(fault):
            self._hit(fault, task, at_start=True)
            self.refresh(task)
        if spec.duration is not None:
            yield world.env.timeout(spec.duration)
            self.active.remove(fault)
            self.history[-1]["end_s"] = world.env.now
            world.log("fault", "fault ended", fault.label())
            for task in self._live_tasks(fault):
                self.refresh(task)

    def _listener_reset(self, spec: FaultSpec, number: int):
        """An outside listener change: an infrastructure-as-code update resets the
        production listener rule to the template's weights, whatever the controller set.

        The controller's next weight change overwrites it (it modifies the same rule). If the
        fault has a ``duration`` and nobody changed the rule meanwhile, the controller's weights
        come back when it ends (the operator's fix, or drift detection).
        """
        world = self.world
        listener = world.listener
        label = f"#{number} listener_reset"
        world.log(
            "fault",
            "fault started",
            f"{label}: listener rule reset to green {spec.green_weight:g}%",
        )
        self.history.append(
            {"fault": number, "kind": spec.kind, "start_s": world.env.now, "end_s": None}
        )
        record = self.history[-1]
        before = listener.green_weight
        listener.set_green_weight(spec.green_weight, f"outside change, fault {label}")
        if spec.duration is None:
            return
        yield world.env.timeout(spec.duration)
        record["end_s"] = world.env.now
        world.log("fault", "fault ended", label)
        if listener.green_weight == spec.green_weight and before != spec.green_weight:
            listener.set_green_weight(before, f"listener rule restored after fault {label}")

    def _live_tasks(self, fault: ActiveFault) -> list[Task]:
        out = []
        for rev in fault.revisions:
            ts = self.world.task_sets.get(rev)
            if ts is not None:
                out.extend(t for t in ts.tasks if t.state in ("RUNNING", "DRAINING"))
        return out

    def _hit(self, fault: ActiveFault, task: Task, *, at_start: bool) -> bool:
        if task.id not in fault.hits:
            u = float(self.world.rngs.faults.random())
            fault.hits[task.id] = u < fault.spec.fraction
        hit = fault.hits[task.id]
        if not hit:
            return False
        kind = fault.spec.kind
        ts = task.task_set
        env = self.world.env
        if kind == "crash" and at_start:
            ts.crash(task, f"crashed (fault {fault.label()})")
        elif kind == "crash_loop":
            uptime = Sampler(fault.spec.uptime or DEFAULT_UPTIME).sample(self.world.rngs.faults)
            env.process(self._crash_later(task, float(uptime), f"crash loop ({fault.label()})"))
        elif kind == "slow_leak" and fault.spec.crash_after is not None:
            since = max(task.running_at or env.now, fault.started)
            delay = max(0.0, since + fault.spec.crash_after - env.now)
            env.process(self._crash_later(task, delay, f"out of memory ({fault.label()})"))
        return True

    def _crash_later(self, task: Task, delay: float, reason: str):
        yield self.world.env.timeout(delay)
        if task.state in ("RUNNING", "DRAINING"):
            task.task_set.crash(task, reason)

    def task_started(self, task: Task) -> None:
        """A task became RUNNING: faults in force reach it too."""
        for fault in self.active:
            if task.revision in fault.revisions and fault.spec.kind != "crash":
                self._hit(fault, task, at_start=False)
        self.refresh(task)

    def refresh(self, task: Task) -> None:
        """Recompute the fault fields of ``task`` from the faults in force."""
        task.extra_error_rate = 0.0
        task.latency_multiply = 1.0
        task.latency_add = 0.0
        task.leak_growth = 0.0
        task.leak_since = 0.0
        task.probe_failure = 0.0
        task.overload_error_rate = 0.0
        task.overload_utilisation = 1.0
        faulty = task.revision == "green" and self.green_is_worse
        for fault in self.active:
            if task.revision not in fault.revisions or not fault.hits.get(task.id, False):
                continue
            s = fault.spec
            if s.kind != "dependency_outage":
                faulty = faulty or task.revision == "green"
            if s.kind in ("error_rate", "dependency_outage"):
                task.extra_error_rate = 1 - (1 - task.extra_error_rate) * (1 - s.error_rate)
            elif s.kind == "latency":
                task.latency_multiply *= s.multiply
                task.latency_add += s.add
            elif s.kind == "slow_leak":
                task.leak_growth += s.growth
                task.leak_since = max(task.running_at or 0.0, fault.started)
            elif s.kind == "health_check":
                task.probe_failure = 1 - (1 - task.probe_failure) * (1 - s.probability)
            elif s.kind == "load_dependent":
                task.overload_error_rate = s.error_rate
                task.overload_utilisation = s.utilisation
        task.faulty = faulty


def _describe(spec: FaultSpec) -> str:
    parts = []
    if spec.error_rate is not None:
        parts.append(f"error rate {spec.error_rate:.1%}")
    if spec.kind == "latency":
        parts.append(f"latency ×{spec.multiply:g} +{spec.add * 1000:g}ms")
    if spec.kind == "health_check":
        parts.append(f"probes fail with p={spec.probability:g}")
    if spec.kind == "slow_leak":
        parts.append(f"+{spec.growth * 1000:g}ms per minute of age")
    if spec.fraction < 1:
        parts.append(f"{spec.fraction:.0%} of tasks")
    return (": " + ", ".join(parts)) if parts else ""

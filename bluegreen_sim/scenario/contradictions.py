"""Settings a scenario gives but the rest of it ignores: refused, not silently dropped.

A CodeDeploy ``config`` under ``controller: ecs`` used to run all at once without a word; a
``linear`` block under ``strategy: CANARY``, a probe's ``requests`` on a Lambda hook, a
lognormal's ``mean``, a ramp's ``ramp_to`` on a constant load, a crash fault's ``multiply``:
each was accepted and had no
effect, so the scenario did not do what its author wrote. Each is an error now. Only settings
*written* (in the file or by an override) count, found with pydantic's ``model_fields_set``: a
default never contradicts anything.

One exception keeps the documented ``--set deployment.controller=ecs`` experiments working: an
override that switches the controller (or the ECS strategy) drops the settings of the one it
replaces, with a warning (:class:`ScenarioWarning`) instead of an error; see
:func:`drop_switched_settings`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from .deployment import DeploymentSpec, TrafficRouting
from .model import Scenario
from .workload import Distribution

__all__ = [
    "CONTROLLER_FIELDS",
    "ScenarioWarning",
    "contradictions",
    "drop_switched_settings",
]

# The deployment settings only one controller reads (the others ignore them).
CONTROLLER_FIELDS: dict[str, tuple[str, ...]] = {
    "codedeploy": ("config", "termination_wait", "auto_rollback", "ready_wait"),
    "ecs": ("strategy", "linear", "canary", "bake_time", "circuit_breaker", "alarm_rollback"),
    "steps": ("steps", "rollback_on_failure"),
}
_CONTROLLER_NAMES = {"codedeploy": "CodeDeploy", "ecs": "ECS-native", "steps": "steps"}
# ECS strategy blocks, read only under their strategy.
STRATEGY_FIELDS: dict[str, str] = {"LINEAR": "linear", "CANARY": "canary"}
# Hook settings by kind; ``timeout``/``timeout_action`` are ECS's (CodeDeploy's is fixed).
HOOK_FIELDS: dict[str, tuple[str, ...]] = {
    "probe": ("requests", "rate", "max_error_rate", "max_p99"),
    "lambda": ("duration", "outcome", "failure_probability"),
    "pause": ("continue_after",),
}
ECS_HOOK_FIELDS = ("timeout", "timeout_action")
# Load settings by pattern.
PATTERN_FIELDS: dict[str, tuple[str, ...]] = {
    "step": ("steps",),
    "ramp": ("ramp_to", "ramp_start", "ramp_end"),
    "diurnal": ("period", "amplitude", "phase"),
    "trace": ("trace",),
}
# Fault parameters by kind (revision, after, at, duration, fraction are every kind's).
FAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "error_rate": ("error_rate",),
    "latency": ("multiply", "add"),
    "crash": (),
    "crash_loop": ("uptime",),
    "health_check": ("probability",),
    "slow_leak": ("growth", "crash_after"),
    "load_dependent": ("error_rate", "utilisation"),
    "dependency_outage": ("error_rate",),
}
# Distribution parameters by distribution.
DISTRIBUTION_FIELDS: dict[str, tuple[str, ...]] = {
    "exponential": ("mean",),
    "lognormal": ("median", "p99"),
    "constant": ("value",),
    "uniform": ("low", "high"),
    "empirical": ("file",),
}


class ScenarioWarning(UserWarning):
    """A scenario setting that was dropped because an override made it meaningless."""


def contradictions(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """(field path, message) for every written setting that the scenario ignores."""
    yield from _deployment(scenario)
    if scenario.deployment.controller != "none" and scenario.deployment.start >= scenario.duration:
        yield (
            "deployment.start",
            f"the deployment starts at {scenario.deployment.start:g}s, at or after the end of "
            f"the run (duration {scenario.duration:g}s); start it earlier or run longer",
        )
    load = scenario.load
    for pattern, names in PATTERN_FIELDS.items():
        if pattern != load.pattern:
            for name in _written(load, names):
                yield f"load.{name}", f"is read only by pattern '{pattern}', not '{load.pattern}'"
    for section in ("service", "blue", "green"):
        spec = getattr(scenario, section)
        for name in ("latency", "startup"):
            dist = getattr(spec, name)
            if dist is not None:
                yield from _distribution(dist, f"{section}.{name}")
    for i, fault in enumerate(scenario.faults):
        own = FAULT_FIELDS.get(fault.kind, ())
        others = {n for names in FAULT_FIELDS.values() for n in names} - set(own)
        for name in _written(fault, tuple(sorted(others))):
            yield (
                f"faults[{i}].{name}",
                f"is not a parameter of a '{fault.kind}' fault"
                + (f" (it reads {', '.join(own)})" if own else " (it has no parameters)"),
            )
        if fault.uptime is not None:
            yield from _distribution(fault.uptime, f"faults[{i}].uptime")


def _written(model: Any, names: tuple[str, ...]) -> list[str]:
    """The ``names`` written with a value other than their default.

    A default restated is harmless, and a scenario dumped whole (``model_dump``, as compare,
    sweeps and ``--out`` do) restates every default: only a changed value contradicts.
    """
    fields = type(model).model_fields
    return [
        n
        for n in names
        if n in model.model_fields_set
        and getattr(model, n) != fields[n].get_default(call_default_factory=True)
    ]


def _deployment(scenario: Scenario) -> Iterator[tuple[str, str]]:
    dep: DeploymentSpec = scenario.deployment
    controller = dep.controller
    if controller == "none":
        return  # switching the deployment off keeps the file's settings for later
    for owner, names in CONTROLLER_FIELDS.items():
        if owner == controller:
            continue
        for name in _written(dep, names):
            yield (
                f"deployment.{name}",
                f"is a {_CONTROLLER_NAMES[owner]} setting (controller: {owner}), but the "
                f"controller is '{controller}', which ignores it; remove it or set "
                f"deployment.controller: {owner}",
            )
    if controller == "ecs":
        for strategy, name in STRATEGY_FIELDS.items():
            if dep.strategy != strategy and _written(dep, (name,)):
                yield (
                    f"deployment.{name}",
                    f"is read only by strategy {strategy}, but the strategy is {dep.strategy}",
                )
    if controller == "codedeploy" and isinstance(dep.config, TrafficRouting):
        cfg = dep.config
        if cfg.type == "AllAtOnce":
            for name in _written(cfg, ("percentage", "interval")):
                yield f"deployment.config.{name}", "is ignored by type AllAtOnce"
    for hook_name, hook in dep.hooks.items():
        where = f"deployment.hooks.{hook_name}"
        for kind, names in HOOK_FIELDS.items():
            if kind != hook.kind:
                for name in _written(hook, names):
                    yield f"{where}.{name}", f"is read only by '{kind}' hooks, not '{hook.kind}'"
        if controller != "ecs":
            for name in _written(hook, ECS_HOOK_FIELDS):
                yield (
                    f"{where}.{name}",
                    f"is an ECS lifecycle-hook setting; {controller} hooks time out after "
                    "3600 s (fixed by AWS)",
                )
        if hook.kind == "lambda" and len(_written(hook, ("outcome", "failure_probability"))) == 2:
            yield (
                f"{where}.outcome",
                "with failure_probability the outcome is drawn; give one of the two",
            )


def _distribution(dist: Distribution, where: str) -> Iterator[tuple[str, str]]:
    for kind, names in DISTRIBUTION_FIELDS.items():
        if kind != dist.distribution:
            for name in _written(dist, names):
                yield f"{where}.{name}", f"is a parameter of '{kind}', not '{dist.distribution}'"


def drop_switched_settings(
    raw: dict[str, Any], before: dict[str, Any], source: str
) -> dict[str, Any]:
    """After overrides: drop what a switched controller or strategy no longer reads.

    Args:
        raw: the scenario data after the overrides (changed in place and returned).
        before: the data before them.
        source: named in the warning.
    """
    dep, old = raw.get("deployment"), before.get("deployment")
    if not isinstance(dep, dict) or not isinstance(old, dict):
        return raw
    dropped = []
    new_c, old_c = dep.get("controller"), old.get("controller")
    if new_c != old_c and new_c != "none":
        for name in CONTROLLER_FIELDS.get(str(old_c), ()):
            if name in dep and name not in CONTROLLER_FIELDS.get(str(new_c), ()):
                del dep[name]
                dropped.append(name)
    new_s, old_s = dep.get("strategy"), old.get("strategy")
    if new_s != old_s and old_s in STRATEGY_FIELDS:
        name = STRATEGY_FIELDS[old_s]
        if name in dep:
            del dep[name]
            dropped.append(name)
    if dropped:
        warnings.warn(
            ScenarioWarning(
                f"{source}: the override switched the deployment to "
                f"{new_c if new_c != old_c else new_s}, which does not read "
                + ", ".join(f"deployment.{n}" for n in dropped)
                + " (dropped)"
            ),
            stacklevel=3,
        )
    return raw

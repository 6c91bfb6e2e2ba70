"""ECS-native deployments: strategy (the rolling update included), bake times, linear and canary
steps, circuit breaker, deployment alarms' rollback, lifecycle hooks."""

from __future__ import annotations

from typing import Any

from ..scenario import ECS_HOOK_STAGES
from .mapper import Mapper, as_bool, as_number, as_str
from .model import Resource


def ecs(m: Mapper, s: Resource) -> None:
    strategy = m.take(s, "strategy", "deployment.strategy", lambda v: as_str(v).upper())
    if strategy is None:
        strategy = "ROLLING"
        m.put("deployment.strategy", strategy)
        m.report.default(
            "deployment.strategy",
            strategy,
            m.why(s, "strategy", "no DeploymentConfiguration.Strategy: AWS's default"),
        )
    bake = m.take(s, "bake_time_min", None)
    if bake is None:
        m.report.default(
            "deployment.bake_time",
            "0m" if strategy == "ROLLING" else "15m",
            m.why(
                s,
                "bake_time_min",
                "no BakeTimeInMinutes: AWS's default"
                + (" (none for a rolling update)" if strategy == "ROLLING" else ""),
            ),
        )
    else:
        m.put("deployment.bake_time", f"{bake}m")
        m.report.map("deployment.bake_time", f"{bake}m", s.fields["bake_time_min"].origin)
    if strategy == "LINEAR":
        m.take(
            s,
            "linear_step_percent",
            "deployment.linear.step_percent",
            default=10.0,
            why="no StepPercent: the scenario default",
        )
        _minutes(m, s, "linear_bake_min", "deployment.linear.step_bake_time", "6m")
    if strategy == "CANARY":
        m.take(
            s,
            "canary_percent",
            "deployment.canary.canary_percent",
            default=5.0,
            why="no CanaryPercent: the scenario default",
        )
        _minutes(m, s, "canary_bake_min", "deployment.canary.canary_bake_time", "10m")
    if s.has("cb_enable"):
        m.take(s, "cb_enable", "deployment.circuit_breaker.enable", as_bool)
        m.take(s, "cb_rollback", "deployment.circuit_breaker.rollback", as_bool)
        m.take(s, "cb_reset", "deployment.circuit_breaker.reset_on_healthy_task", as_bool)
        m.take(s, "cb_threshold_type", "deployment.circuit_breaker.threshold.type", as_str)
        m.take(s, "cb_threshold_value", "deployment.circuit_breaker.threshold.value")
    else:
        m.put("deployment.circuit_breaker.enable", False)
        m.report.default(
            "deployment.circuit_breaker.enable",
            False,
            "no DeploymentCircuitBreaker: AWS leaves it off",
        )
    if s.has("alarms_rollback"):
        m.take(s, "alarms_rollback", "deployment.alarm_rollback", as_bool)
    if strategy == "ROLLING":
        _rolling_extras(m, s)
        return
    if s.get("test_listener_rule") is not None:
        m.put("load_balancer.test_listener", True)
        m.report.map("load_balancer.test_listener", True, s.fields["test_listener_rule"].origin)
    for hook in s.get("hooks") or []:
        _ecs_hook(m, hook)


def _rolling_extras(m: Mapper, s: Resource) -> None:
    """What a rolling update does not use: a second target group, listener rules, hooks."""
    for field in ("alternate_target_group", "prod_listener_rule", "test_listener_rule"):
        if s.has(field):
            m.report.ignore(
                s.fields[field].origin,
                "a rolling update registers the new tasks in the same target group: "
                "the advanced configuration is not used",
            )
    if s.get("hooks"):
        m.report.ignore(
            s.fields["hooks"].origin,
            "lifecycle hooks: the simulator runs them for BLUE_GREEN, LINEAR and CANARY only",
        )


def _minutes(m: Mapper, res: Resource, field: str, path: str, default: str) -> None:
    value = m.take(res, field, None)
    if value is None:
        m.report.default(
            path, default, m.why(res, field, f"no {field.replace('_', ' ')}: the scenario default")
        )
    else:
        m.put(path, f"{value}m")
        m.report.map(path, f"{value}m", res.fields[field].origin)


def _ecs_hook(m: Mapper, hook: dict) -> None:
    target = str(hook.get("target_type") or "AWS_LAMBDA").upper()
    kind = "pause" if target == "PAUSE" else "lambda"
    stages = hook.get("stages") if isinstance(hook.get("stages"), list) else []
    for stage in stages:
        where = hook["where"]
        if stage not in ECS_HOOK_STAGES:
            m.report.looks_wrong(where, f"{stage!r} is not an ECS lifecycle stage")
            continue
        if kind == "pause" and stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
            m.report.looks_wrong(where, f"{stage} accepts only Lambda hooks (AWS rule); skipped")
            continue
        spec: dict[str, Any] = {"kind": kind}
        try:
            if hook.get("timeout_min") is not None:
                spec["timeout"] = f"{as_number(hook['timeout_min'])}m"
        except ValueError as exc:
            m.report.looks_wrong(where, str(exc))
        if hook.get("action") in ("ROLLBACK", "CONTINUE"):
            spec["timeout_action"] = hook["action"]
        path = f"deployment.hooks.{stage}"
        m.put(path, spec)
        m.report.map(path, spec, where)
        if kind == "pause":
            m.report.default(
                path + ".continue_after",
                None,
                "nobody continues a PAUSE hook in "
                "the simulation: its timeout decides (set continue_after)",
            )
        else:
            m.report.default(
                path + ".outcome",
                "Succeeded",
                "what the Lambda decides is not in the files: assumed to succeed in 5s",
            )

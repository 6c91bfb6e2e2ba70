"""The load balancer and the tasks: target-group health checks and attributes, the load
balancer's type and idle timeout, listener weights, task count and size, attached alarms."""

from __future__ import annotations

from typing import Any

from ..scenario import FARGATE_CPU, LoadBalancerSpec
from .mapper import Mapper, as_bool, as_number, as_str
from .model import Resource, Unresolved

NETWORK_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")


def target_groups(m: Mapper, group, svc, hook) -> tuple[Resource | None, Resource | None]:
    defs = m.defs
    refs: list[Any] = []
    for r, field in ((group, "target_groups"), (hook, "target_groups")):
        if r is not None and isinstance(r.get(field), list):
            refs = list(r.get(field))
            break
    if not refs and svc is not None:
        refs = [svc.get("target_group"), svc.get("alternate_target_group")]
    found = [defs.find("target_group", x) for x in refs[:2]]
    while len(found) < 2:
        found.append(None)
    tgs = defs.of("target_group")
    if found[0] is None and len(tgs) in (1, 2) and not any(found):
        found = (tgs + [None])[:2]
        m.report.default(
            "load_balancer.health_check",
            tgs[0].id,
            "the deployment names no target group the files define: the only "
            "target group(s) of the files are used",
        )
    return found[0], found[1]


HC_FIELDS = (
    ("hc_enabled", "enabled", as_bool),
    ("hc_interval", "interval", as_number),
    ("hc_timeout", "timeout", as_number),
    ("hc_healthy", "healthy_threshold", as_number),
    ("hc_unhealthy", "unhealthy_threshold", as_number),
)
ATTRS = {
    "deregistration_delay.timeout_seconds": ("deregistration_delay", as_number),
    "slow_start.duration_seconds": ("slow_start", as_number),
    "load_balancing.algorithm.type": ("routing", as_str),
}


def load_balancer(m: Mapper, blue, green, group, svc, hook) -> None:
    if blue is None:
        m.report.default(
            "load_balancer.health_check",
            "ALB defaults",
            "no target group of the deployment is in the files: ALB's defaults (30s, 5s, 5, 2)",
        )
        return
    for field, name, conv in HC_FIELDS:
        m.take(blue, field, f"load_balancer.health_check.{name}", conv)
    if str(blue.get("protocol", "HTTP")).upper() in NETWORK_PROTOCOLS:
        m.put("load_balancer.type", "network")
        m.report.map("load_balancer.type", "network", blue.fields["protocol"].origin)
    for key, value in blue.fields.items():
        if not key.startswith("attr:"):
            continue
        attr = key[5:]
        if attr in ATTRS:
            name, conv = ATTRS[attr]
            m.take(blue, key, f"load_balancer.{name}", conv)
        elif attr == "stickiness.enabled" and str(value.value).lower() == "true":
            # Not load_balancer.target_group_stickiness: that is the listener's choice between
            # blue and green (TargetGroupStickinessConfig); this pins a client to one target.
            m.report.ignore(
                value.origin,
                "the target group's own stickiness (a client kept on one target inside the "
                "group) is not modelled: targets are chosen by load_balancer.routing. "
                "Stickiness between blue and green is the listener's TargetGroupStickinessConfig "
                "(load_balancer.target_group_stickiness)",
            )
        elif not attr.startswith("stickiness."):
            m.report.ignore(value.origin, f"{attr}: not about traffic shifting")
    if green is not None:
        differ = [name for field, name, _ in HC_FIELDS if blue.get(field) != green.get(field)]
        differ += [
            k[5:]
            for k in set(blue.fields) | set(green.fields)
            if k.startswith("attr:") and _attr(blue.get(k)) != _attr(green.get(k))
        ]
        if differ:
            m.report.looks_wrong(
                green.origin,
                f"the second target group differs from the first "
                f"in {', '.join(sorted(differ))}; CodeDeploy alternates them, "
                f"so every other deployment behaves differently (first used)",
            )
    for lb in m.defs.of("load_balancer"):
        m.take(lb, "type", "load_balancer.type", lambda v: as_str(v).lower())
        m.take(lb, "idle_timeout", "load_balancer.idle_timeout")
        break
    for lst in m.defs.of("listener") + m.defs.of("listener_rule"):
        forward = lst.get("forward")
        if isinstance(forward, list) and len(forward) == 2 and green is not None:
            weights = {id(m.defs.find("target_group", t)): w for t, w in forward}
            w_green = weights.get(id(green))
            if w_green not in (None, 0, "0"):
                m.report.looks_wrong(
                    lst.fields["forward"].origin,
                    f"the listener already sends "
                    f"weight {w_green} to the second target group; the "
                    "simulation starts with all traffic on blue",
                )
        if lst.get("forward_stickiness") in (True, "true"):
            _forward_stickiness(m, lst)


def _forward_stickiness(m: Mapper, lst: Resource) -> None:
    """TargetGroupStickinessConfig: a client stays with the revision it first reached."""
    origin = lst.fields["forward_stickiness"].origin
    if "target_group_stickiness" not in LoadBalancerSpec.model_fields:
        m.report.ignore(
            origin, "target-group stickiness on the weighted forward: no scenario field yet"
        )
        return
    seconds = m.take(lst, "forward_stickiness_duration", "load_balancer.target_group_stickiness")
    if seconds is None:
        return
    # Stickiness is per client; how many clients send the load is workload, not in the files.
    m.put("load.clients", 1000)
    m.report.default(
        "load.clients",
        1000,
        "stickiness is per client and the number of clients is not in the files: a placeholder",
    )


def _attr(value: Any) -> str:
    """An attribute's value for comparison: unset reads as AWS's default (off)."""
    text = str(value).lower()
    return "false" if text in ("none", "false", "0") else text


def _vcpu(value: Any) -> float:
    """vCPU from CPU units (``"256"``, ``1024``) or ``"1 vCPU"``; a size Fargate has."""
    text = str(value).strip().lower()
    f = float(text.replace("vcpu", "").strip())
    vcpu = f if "vcpu" in text else f / 1024
    if vcpu not in FARGATE_CPU:
        raise ValueError(f"cpu {value!r} is not a Fargate task size (256 .. 16384 CPU units)")
    return vcpu


def _gb(value: Any) -> float:
    """GB from MiB (``"512"``) or ``"2 GB"``; within Fargate's 0.5 .. 120 GB."""
    text = str(value).strip().lower()
    gb = float(text[:-2]) if text.endswith("gb") else round(float(text) / 1024, 3)
    if not 0.5 <= gb <= 120:
        raise ValueError(f"memory {value!r} is outside Fargate's 512 MiB .. 120 GB")
    return gb


def tasks(m: Mapper, svc: Resource | None) -> None:
    tasks = m.take(svc, "desired_count", "service.tasks")
    if tasks is None:
        tasks = 10
        m.report.default(
            "service.tasks",
            10,
            m.why(
                svc,
                "desired_count",
                "no DesiredCount: the scenario default (AWS "
                "starts 1 task, too few for the placeholder workload)",
            ),
        )
    m.put("load.rps", 10.0 * tasks)
    m.report.default(
        "load.rps",
        10.0 * tasks,
        "the workload is not in the files: 10 requests/s "
        "per task (the scenario defaults' utilisation), a placeholder",
    )
    td = m.defs.find("task_definition", svc.get("task_definition")) if svc is not None else None
    if td is None and len(m.defs.of("task_definition")) == 1:
        td = m.defs.of("task_definition")[0]
    if td is not None:
        m.take(td, "cpu", "service.cpu", _vcpu)
        m.take(td, "memory", "service.memory", _gb)
        _stop_timeout(m, td, svc)


def _stop_timeout(m: Mapper, td: Resource, svc: Resource | None) -> None:
    """The container's StopTimeout: the load balancer's container, else the first."""
    containers = [c for c in td.get("containers") or [] if isinstance(c, dict)]
    if not containers:
        return
    wanted = svc.get("container_name") if svc is not None else None
    c = next((c for c in containers if wanted is not None and c["name"] == wanted), containers[0])
    path = "service.stop_timeout"
    if c.get("stop_timeout") is None:
        m.report.default(path, 30, f"{c['where']}: no StopTimeout: Fargate's default (30s)")
        return
    try:
        value = _ranged(c["stop_timeout"], 2, 120, "StopTimeout", "s (Fargate)")
    except ValueError as exc:
        m.report.looks_wrong(c["where"], str(exc))
        m.report.default(path, 30, f"{c['where']} could not be read: Fargate's default")
        return
    m.put(path, value)
    m.report.map(path, value, f"{c['where']}.StopTimeout")
    if len(containers) > 1:
        m.report.default(
            path, value, f"{td.origin}: several containers; the load balancer's (or first) used"
        )


def _ranged(value: Any, low: float, high: float, name: str, unit: str = "") -> float | int:
    x = as_number(value)
    if not low <= x <= high:
        raise ValueError(f"{name} {x}: the simulator takes {low} to {high}{unit}")
    return x


def attached_alarms(m: Mapper, group, svc, controller) -> list[tuple[Any, str]]:
    """(alarm reference, origin) of the alarms the deployment watches."""
    if controller == "codedeploy" and group is not None:
        names = group.get("alarm_names") or []
        enabled = group.get("alarms_enabled", bool(names))
        origin = group.fields["alarm_names"].origin if group.has("alarm_names") else group.origin
    elif controller == "ecs" and svc is not None:
        names = svc.get("alarm_names") or []
        enabled = svc.get("alarms_enable", bool(names))
        origin = svc.fields["alarm_names"].origin if svc.has("alarm_names") else svc.origin
    else:
        return []
    if isinstance(names, Unresolved) or not isinstance(names, list):
        m.report.default(
            "deployment.alarms", [], f"{origin}: the alarm list is not known from the files"
        )
        return []
    if names and str(enabled).lower() == "false":
        m.report.looks_wrong(
            origin, "alarms are listed but not enabled: they cannot stop the deployment"
        )
        return []
    return [(n, origin) for n in names]


SERVICE_FIELDS = (
    # (resource field, scenario field, AWS name, low, high, AWS's default)
    ("grace_period", "health_check_grace_period", "HealthCheckGracePeriodSeconds", 0, 2**31 - 1, 0),
    ("minimum_healthy_percent", "minimum_healthy_percent", "MinimumHealthyPercent", 0, 100, 100),
    ("maximum_percent", "maximum_percent", "MaximumPercent", 100, 200, 200),
)


def others(m: Mapper, svc: Resource | None) -> None:
    """The service's grace period and deployment bounds (ECS defaults when missing)."""
    if svc is None:
        return
    for field, name, aws, low, high, default in SERVICE_FIELDS:
        path = f"service.{name}"
        m.take(
            svc,
            field,
            path,
            lambda v, aws=aws, low=low, high=high: _ranged(v, low, high, aws),
            default=default,
            why=f"no {aws}: AWS's default",
        )

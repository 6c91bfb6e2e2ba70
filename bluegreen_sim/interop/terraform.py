"""Terraform: the AWS provider's resources, and the community modules that mirror them.

All ``.tf`` files given form one configuration (variables, locals and resources are shared),
read with python-hcl2 and evaluated by :mod:`.hcl_eval` with variable defaults, ``.tfvars`` and
``--var`` values. The provider's blocks (``health_check { ... }``) and the modules' objects
(``health_check = { ... }``) are read by the same tables. Calls of the terraform-aws-modules ECS
service and ALB modules are read as their resources; any other module call is reported, not
guessed.
"""

from __future__ import annotations

import json
from typing import Any

from .hcl_eval import Evaluator, _unquote
from .model import Definitions, Ref, Resource

# Terraform type -> (our kind, [(field, "path.in.block")...])
_TG = [
    ("name", "name"),
    ("protocol", "protocol"),
    ("target_type", "target_type"),
    ("hc_enabled", "health_check.enabled"),
    ("hc_interval", "health_check.interval"),
    ("hc_timeout", "health_check.timeout"),
    ("hc_healthy", "health_check.healthy_threshold"),
    ("hc_unhealthy", "health_check.unhealthy_threshold"),
    ("hc_path", "health_check.path"),
    ("attr:deregistration_delay.timeout_seconds", "deregistration_delay"),
    ("attr:slow_start.duration_seconds", "slow_start"),
    ("attr:load_balancing.algorithm.type", "load_balancing_algorithm_type"),
    ("attr:stickiness.enabled", "stickiness.enabled"),
]
_SERVICE = [
    ("name", "name"),
    ("desired_count", "desired_count"),
    ("task_definition", "task_definition"),
    ("grace_period", "health_check_grace_period_seconds"),
    ("controller", "deployment_controller.type"),
    ("strategy", "deployment_configuration.strategy"),
    ("bake_time_min", "deployment_configuration.bake_time_in_minutes"),
    ("linear_step_percent", "deployment_configuration.linear_configuration.step_percent"),
    ("linear_bake_min", "deployment_configuration.linear_configuration.step_bake_time_in_minutes"),
    ("canary_percent", "deployment_configuration.canary_configuration.canary_percent"),
    (
        "canary_bake_min",
        "deployment_configuration.canary_configuration.canary_bake_time_in_minutes",
    ),
    ("cb_enable", "deployment_circuit_breaker.enable"),
    ("cb_rollback", "deployment_circuit_breaker.rollback"),
    ("alarm_names", "alarms.alarm_names"),
    ("alarms_enable", "alarms.enable"),
    ("alarms_rollback", "alarms.rollback"),
    ("maximum_percent", "deployment_maximum_percent"),
    ("minimum_healthy_percent", "deployment_minimum_healthy_percent"),
    ("target_group", "load_balancer.target_group_arn"),
    ("container_name", "load_balancer.container_name"),
    ("alternate_target_group", "load_balancer.advanced_configuration.alternate_target_group_arn"),
    ("prod_listener_rule", "load_balancer.advanced_configuration.production_listener_rule"),
    ("test_listener_rule", "load_balancer.advanced_configuration.test_listener_rule"),
]
TYPES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "aws_codedeploy_deployment_group": (
        "deployment_group",
        [
            ("name", "deployment_group_name"),
            ("deployment_config_name", "deployment_config_name"),
            ("style_type", "deployment_style.deployment_type"),
            ("style_option", "deployment_style.deployment_option"),
            (
                "ready_action",
                "blue_green_deployment_config.deployment_ready_option.action_on_timeout",
            ),
            (
                "ready_wait_min",
                "blue_green_deployment_config.deployment_ready_option.wait_time_in_minutes",
            ),
            (
                "termination_action",
                "blue_green_deployment_config.terminate_blue_instances_on_deployment_success.action",
            ),
            (
                "termination_wait_min",
                "blue_green_deployment_config."
                "terminate_blue_instances_on_deployment_success.termination_wait_time_in_minutes",
            ),
            ("auto_rollback_enabled", "auto_rollback_configuration.enabled"),
            ("auto_rollback_events", "auto_rollback_configuration.events"),
            ("alarms_enabled", "alarm_configuration.enabled"),
            ("alarm_names", "alarm_configuration.alarms"),
            ("ignore_poll_alarm_failure", "alarm_configuration.ignore_poll_alarm_failure"),
            ("service", "ecs_service.service_name"),
            ("cluster", "ecs_service.cluster_name"),
            (
                "prod_listeners",
                "load_balancer_info.target_group_pair_info.prod_traffic_route.listener_arns",
            ),
            (
                "test_listeners",
                "load_balancer_info.target_group_pair_info.test_traffic_route.listener_arns",
            ),
        ],
    ),
    "aws_codedeploy_deployment_config": (
        "deployment_config",
        [
            ("name", "deployment_config_name"),
            ("compute_platform", "compute_platform"),
            ("routing_type", "traffic_routing_config.type"),
            ("percentage", "traffic_routing_config.time_based_canary.percentage"),
            ("interval_min", "traffic_routing_config.time_based_canary.interval"),
            ("percentage", "traffic_routing_config.time_based_linear.percentage"),
            ("interval_min", "traffic_routing_config.time_based_linear.interval"),
        ],
    ),
    "aws_ecs_service": ("service", _SERVICE),
    "aws_ecs_task_definition": (
        "task_definition",
        [("name", "family"), ("cpu", "cpu"), ("memory", "memory")],
    ),
    "aws_lb_target_group": ("target_group", _TG),
    "aws_lb": (
        "load_balancer",
        [("name", "name"), ("type", "load_balancer_type"), ("idle_timeout", "idle_timeout")],
    ),
    "aws_lb_listener": (
        "listener",
        [("port", "port"), ("protocol", "protocol"), ("load_balancer", "load_balancer_arn")],
    ),
    "aws_lb_listener_rule": (
        "listener_rule",
        [("listener", "listener_arn"), ("priority", "priority")],
    ),
    "aws_cloudwatch_metric_alarm": (
        "alarm",
        [
            ("name", "alarm_name"),
            ("namespace", "namespace"),
            ("metric", "metric_name"),
            ("statistic", "statistic"),
            ("extended_statistic", "extended_statistic"),
            ("period", "period"),
            ("evaluation_periods", "evaluation_periods"),
            ("datapoints_to_alarm", "datapoints_to_alarm"),
            ("threshold", "threshold"),
            ("comparison", "comparison_operator"),
            ("treat_missing_data", "treat_missing_data"),
            ("dimensions", "dimensions"),
            ("actions_enabled", "actions_enabled"),
        ],
    ),
}
for _old, _new in (
    ("aws_alb", "aws_lb"),
    ("aws_alb_target_group", "aws_lb_target_group"),
    ("aws_alb_listener", "aws_lb_listener"),
    ("aws_alb_listener_rule", "aws_lb_listener_rule"),
):
    TYPES[_old] = TYPES[_new]

ECS_SERVICE_MODULE = "terraform-aws-modules/ecs/aws//modules/service"
ECS_MODULE = "terraform-aws-modules/ecs/aws"
ALB_MODULE = "terraform-aws-modules/alb/aws"


def _blocks(data: dict, key: str) -> list[dict]:
    out = []
    for item in data.get(key, []) or []:
        if isinstance(item, dict):
            out.append(item)
    return out


def tfvars_values(source: str, data: dict) -> dict[str, Any]:
    ev = Evaluator({})
    return {k: ev.value(v) for k, v in data.items() if not k.startswith("__")}


def _get(body: Any, path: str) -> tuple[Any, bool]:
    """The value at dotted ``path`` of an evaluated body (a block list takes its first)."""
    node = body
    for part in path.split("."):
        if isinstance(node, list):
            node = node[0] if node and isinstance(node[0], dict) else None
        if not isinstance(node, dict) or part not in node:
            return None, False
        node = node[part]
    if isinstance(node, list) and len(node) == 1 and isinstance(node[0], dict) and "." not in path:
        return node, True
    return node, True


def read_modules(sources: list, variables: dict[str, Any], defs: Definitions) -> None:
    """Add the resources of the Terraform configuration made of ``sources``."""
    declared: dict[str, Any] = {}
    local_exprs: dict[str, Any] = {}
    for src in sources:
        for block in _blocks(src.data, "variable"):
            for name, spec in block.items():
                if name.startswith("__"):
                    continue
                spec = spec if isinstance(spec, dict) else {}
                declared[_unquote(name)] = spec.get("default", _NODEFAULT)
        for block in _blocks(src.data, "locals"):
            local_exprs.update({k: v for k, v in block.items() if not k.startswith("__")})
    values: dict[str, Any] = {}
    plain = Evaluator({})
    for name, default in declared.items():
        if name in variables:
            values[name] = variables[name]
        elif default is not _NODEFAULT:
            values[name] = plain.value(default)
        # else: unresolved, said in the report only where a mapped value uses it
    for name in variables:
        if name not in declared:
            defs.note("wrong", f"variable {name}", "given a value but no such variable is declared")
    ev = Evaluator(values, local_exprs)
    for src in sources:
        for block in _blocks(src.data, "resource"):
            for rtype, named in block.items():
                if rtype.startswith("__") or not isinstance(named, dict):
                    continue
                for rname, body in named.items():
                    if not rname.startswith("__"):
                        _resource(src.path, _unquote(rtype), _unquote(rname), body, ev, defs)
        for block in _blocks(src.data, "module"):
            for mname, body in block.items():
                if not mname.startswith("__"):
                    _module(src.path, _unquote(mname), body, ev, defs)


_NODEFAULT = object()


def _line(body: Any) -> str:
    line = body.get("__start_line__") if isinstance(body, dict) else None
    return f" (line {line})" if line else ""


def _resource(path: str, rtype: str, rname: str, body: dict, ev: Evaluator, defs) -> None:
    address = f"{rtype}.{rname}"
    if rtype not in TYPES:
        return
    kind, table = TYPES[rtype]
    where = f"{path}: {address}"
    r = Resource(kind, address, where + _line(body))
    values = ev.value(body)
    if isinstance(values.get("count"), int | float) and values["count"] == 0:
        defs.note("ignored", where, "not created: count = 0")
        return
    if "for_each" in values or "count" in values:
        defs.note("defaulted", where, "count/for_each: read as one instance")
    _fill(r, values, table, where, _line(body))
    _extras(kind, r, values, where, defs)
    defs.add(r)


def _fill(r: Resource, values: dict, table, where: str, line: str = "") -> None:
    for field, path in table:
        value, found = _get(values, path)
        if found and value is not None:
            r.set(field, value, f"{where}.{path}{line}")
            if field == "name" and isinstance(value, str):
                r.keys.add(value)


def _extras(kind: str, r: Resource, values: dict, where: str, defs: Definitions) -> None:
    if kind == "deployment_group":
        pair, _ = _get(values, "load_balancer_info.target_group_pair_info")
        pair = pair[0] if isinstance(pair, list) and pair else pair
        if isinstance(pair, dict):
            tgs = pair.get("target_group") or []
            tgs = tgs if isinstance(tgs, list) else [tgs]
            names = [t.get("name") for t in tgs if isinstance(t, dict)]
            r.set("target_groups", names, f"{where}.load_balancer_info.target_group_pair_info")
    elif kind == "service":
        hooks = _get(values, "deployment_configuration.lifecycle_hook")[0] or []
        hooks = hooks if isinstance(hooks, list) else [hooks]
        out = [
            {
                "stages": h.get("lifecycle_stages") or [],
                "target_type": "AWS_LAMBDA",
                "timeout_min": None,
                "action": None,
                "where": f"{where}.lifecycle_hook[{i}]",
            }
            for i, h in enumerate(hooks)
            if isinstance(h, dict)
        ]
        if out:
            r.set("hooks", out, f"{where}.deployment_configuration.lifecycle_hook")
        lbs = values.get("load_balancer")
        if isinstance(lbs, dict) and "target_group_arn" not in lbs:  # the module's map
            first = next(iter(lbs.values()), {})
            if isinstance(first, dict):
                _fill(
                    r,
                    {"load_balancer": first},
                    [t for t in _SERVICE if t[1].startswith("load_balancer")],
                    where,
                )
    elif kind == "task_definition":
        _containers(r, values.get("container_definitions"), f"{where}.container_definitions")
    elif kind in ("listener", "listener_rule"):
        action, _ = _get(values, "default_action" if kind == "listener" else "action")
        action = action[0] if isinstance(action, list) and action else action
        if isinstance(action, dict) and action.get("type") == "forward":
            fwd = action.get("forward")
            fwd = fwd[0] if isinstance(fwd, list) and fwd else fwd
            if isinstance(fwd, dict):
                tgs = fwd.get("target_group") or []
                tgs = tgs if isinstance(tgs, list) else [tgs]
                r.set("forward", [(t.get("arn"), t.get("weight")) for t in tgs], where)
                sticky, _ = _get(fwd, "stickiness")
                sticky = sticky[0] if isinstance(sticky, list) and sticky else sticky
                if isinstance(sticky, dict):
                    r.set("forward_stickiness", sticky.get("enabled"), f"{where}.stickiness")
                    r.set(
                        "forward_stickiness_duration",
                        sticky.get("duration"),
                        f"{where}.stickiness.duration",
                    )
            elif action.get("target_group_arn") is not None:
                r.set("forward", [(action["target_group_arn"], None)], where)
    elif kind == "alarm":
        queries = values.get("metric_query") or []
        metrics = []
        for q in queries if isinstance(queries, list) else [queries]:
            if not isinstance(q, dict):
                continue
            met, _ = _get(q, "metric")
            met = met[0] if isinstance(met, list) and met else (met or {})
            metrics.append(
                {
                    "id": q.get("id"),
                    "expression": q.get("expression"),
                    "return_data": q.get("return_data"),
                    "metric": met.get("metric_name"),
                    "namespace": met.get("namespace"),
                    "stat": met.get("stat"),
                    "period": met.get("period"),
                    "dimensions": met.get("dimensions") or {},
                }
            )
        if metrics:
            r.set("metrics", metrics, f"{where}.metric_query")


def _containers(r: Resource, value: Any, where: str) -> None:
    """Container names and stop timeouts of ``container_definitions`` (``jsonencode([...])``,
    a JSON string, or the ECS service module's map of containers)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return
    if isinstance(value, dict):  # the module's map: key -> container
        value = [{"name": k, **v} for k, v in value.items() if isinstance(v, dict)]
    if not isinstance(value, list):
        return
    out = []
    for i, c in enumerate(value):
        if isinstance(c, dict):
            stop = c.get("stopTimeout", c.get("stop_timeout"))
            out.append({"name": c.get("name"), "stop_timeout": stop, "where": f"{where}[{i}]"})
    if out:
        r.set("containers", out, where)


def _module(path: str, name: str, body: dict, ev: Evaluator, defs: Definitions) -> None:
    values = ev.value(body)
    source = values.get("source")
    where = f"{path}: module.{name}"
    src = str(source).split("?")[0] if isinstance(source, str) else ""
    if src.rstrip("/") == ECS_SERVICE_MODULE:
        _module_service(f"module.{name}", values, where, defs)
    elif src.rstrip("/") == ECS_MODULE:
        services = values.get("services") or {}
        for key, svc in services.items() if isinstance(services, dict) else []:
            if isinstance(svc, dict):
                _module_service(
                    f"module.{name}.services.{key}", svc, f"{where}.services.{key}", defs
                )
    elif src.rstrip("/") == ALB_MODULE:
        _module_alb(f"module.{name}", values, where, defs)
    else:
        defs.note(
            "ignored",
            where,
            f"module source {source!r} is not read: only the "
            "terraform-aws-modules ECS service and ALB modules mirror the provider's "
            "arguments; pass the module's own .tf files or its resources",
        )


def _module_service(address: str, values: dict, where: str, defs: Definitions) -> None:
    r = Resource("service", address, where)
    _fill(r, values, _SERVICE, where)
    _extras("service", r, values, where, defs)
    defs.add(r)
    if any(values.get(k) is not None for k in ("cpu", "memory", "container_definitions")):
        td = Resource("task_definition", f"{address}.task_definition", where)
        _fill(td, values, [("cpu", "cpu"), ("memory", "memory")], where)
        _containers(td, values.get("container_definitions"), f"{where}.container_definitions")
        defs.add(td)
        r.set("task_definition", Ref(td.id), where)


def _module_alb(address: str, values: dict, where: str, defs: Definitions) -> None:
    lb = Resource("load_balancer", address, where)
    _fill(lb, values, [("type", "load_balancer_type"), ("idle_timeout", "idle_timeout")], where)
    defs.add(lb)
    tgs = values.get("target_groups") or {}
    for key, tg in tgs.items() if isinstance(tgs, dict) else []:
        if not isinstance(tg, dict):
            continue
        r = Resource("target_group", f"{address}.tg.{key}", f"{where}.target_groups.{key}")
        r.keys.add(key)
        _fill(r, tg, _TG, f"{where}.target_groups.{key}")
        defs.add(r)
    listeners = values.get("listeners") or {}
    for key, lst in listeners.items() if isinstance(listeners, dict) else []:
        if not isinstance(lst, dict):
            continue
        r = Resource("listener", f"{address}.listener.{key}", f"{where}.listeners.{key}")
        _fill(r, lst, [("port", "port"), ("protocol", "protocol")], f"{where}.listeners.{key}")
        wf = lst.get("weighted_forward")
        if isinstance(wf, dict) and isinstance(wf.get("target_groups"), list):
            r.set(
                "forward",
                [
                    (Ref(f"{address}.tg.{t.get('target_group_key')}"), t.get("weight"))
                    for t in wf["target_groups"]
                    if isinstance(t, dict)
                ],
                f"{where}.listeners.{key}.weighted_forward",
            )
        defs.add(r)

"""A scenario's deployment settings as Terraform (AWS provider resources)."""

from __future__ import annotations

import json
import math
from typing import Any

from ..scenario import Scenario
from .export import _custom_name, _is_predefined, _minutes, _num, _rolling, fargate_units


class _Expr(str):
    """A Terraform expression written as is (a reference, not a string)."""


def _value(v: Any) -> str:
    if isinstance(v, _Expr):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(_num(v))
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))


def _block(lines: list[str], head: str, body: list[tuple[str, Any]], indent: int = 0) -> None:
    """``body`` items: (name, value) for arguments, (name, [items]) with name ending in '{' for
    nested blocks."""
    pad = " " * indent
    lines.append(f"{pad}{head} {{")
    for name, value in body:
        if name.endswith(" {"):
            _block(lines, name[:-2], value, indent + 2)
        else:
            lines.append(f"{pad}  {name} = {_value(value)}")
    lines.append(f"{pad}}}")


def terraform(s: Scenario) -> str:
    dep, lb = s.deployment, s.load_balancer
    hc = lb.health_check
    lines = [f"# Exported by 'bluegreen-sim export' from scenario {s.name!r}.", ""]
    variables = ["vpc_id", "load_balancer_arn_suffix"]
    if dep.controller == "codedeploy":
        variables += [
            "codedeploy_app_name",
            "codedeploy_role_arn",
            "cluster_name",
            "container_image",
            "subnet_ids",
            "prod_listener_arn",
        ]
        if lb.test_listener:
            variables.append("test_listener_arn")
    else:
        variables += ["cluster_arn", "container_image", "subnet_ids"]
        if not _rolling(s):
            variables += ["production_listener_rule_arn", "load_balancer_role_arn"]
        if lb.test_listener and not _rolling(s):
            variables.append("test_listener_rule_arn")
        if any(h.kind != "pause" for h in dep.hooks.values()):
            variables += ["hook_lambda_arn", "hook_role_arn"]
    for v in variables:
        kind = "list(string)" if v == "subnet_ids" else "string"
        lines.append(f'variable "{v}" {{ type = {kind} }}')
    lines.append("")
    network = lb.type == "network"
    for color in ("blue",) if _rolling(s) else ("blue", "green"):
        body: list[tuple[str, Any]] = [
            ("name", f"{s.name[:24]}-{color}"),
            ("port", 80),
            ("protocol", "TCP" if network else "HTTP"),
            ("target_type", "ip"),
            ("vpc_id", _Expr("var.vpc_id")),
            ("deregistration_delay", _num(lb.deregistration_delay)),
        ]
        if not network:
            body += [
                ("slow_start", _num(lb.slow_start)),
                ("load_balancing_algorithm_type", lb.routing),
            ]
        body.append(
            (
                "health_check {",
                [
                    ("enabled", hc.enabled),
                    ("interval", _num(hc.interval)),
                    ("timeout", _num(hc.timeout)),
                    ("healthy_threshold", hc.healthy_threshold),
                    ("unhealthy_threshold", hc.unhealthy_threshold),
                ],
            )
        )
        _block(lines, f'resource "aws_lb_target_group" "{color}"', body)
        lines.append("")
    alarm_refs = {}
    for i, a in enumerate(s.alarms):
        rname = f"alarm_{i + 1}"
        alarm_refs[a.name] = _Expr(f"aws_cloudwatch_metric_alarm.{rname}.alarm_name")
        _block(lines, f'resource "aws_cloudwatch_metric_alarm" "{rname}"', _tf_alarm(a))
        lines.append("")
    if dep.controller == "codedeploy":
        _tf_codedeploy(s, lines, alarm_refs)
    else:
        _tf_ecs(s, lines, alarm_refs)
    return "\n".join(lines).rstrip() + "\n"


def _dims(tg: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {"LoadBalancer": _Expr("var.load_balancer_arn_suffix")}
    if tg is not None:
        d["TargetGroup"] = _Expr(f"aws_lb_target_group.{tg}.arn_suffix")
    return d


def _tf_alarm(a: Any) -> list[tuple[str, Any]]:
    body: list[tuple[str, Any]] = [("alarm_name", a.name)]
    if a.expression is not None:
        for mid, ref in a.metrics.items():
            body.append(
                (
                    "metric_query {",
                    [
                        ("id", mid),
                        ("return_data", False),
                        (
                            "metric {",
                            [
                                ("namespace", "AWS/ApplicationELB"),
                                ("metric_name", ref.metric),
                                ("period", int(a.period)),
                                ("stat", ref.statistic),
                                ("dimensions", _dims(ref.target_group)),
                            ],
                        ),
                    ],
                )
            )
        body.append(
            (
                "metric_query {",
                [("id", "ratio"), ("expression", a.expression), ("return_data", True)],
            )
        )
    else:
        body += [
            ("namespace", "AWS/ApplicationELB"),
            ("metric_name", a.metric),
            ("period", int(a.period)),
            ("dimensions", _dims(a.target_group)),
        ]
        if a.extended_statistic is not None:
            body.append(("extended_statistic", a.extended_statistic))
        else:
            body.append(("statistic", a.statistic))
    body.append(("evaluation_periods", a.evaluation_periods))
    if a.datapoints_to_alarm is not None:
        body.append(("datapoints_to_alarm", a.datapoints_to_alarm))
    body += [
        ("threshold", _num(a.threshold)),
        ("comparison_operator", a.comparison),
        ("treat_missing_data", a.treat_missing_data),
    ]
    return body


def _tf_codedeploy(s: Scenario, lines: list[str], alarm_refs: dict) -> None:
    dep = s.deployment
    if _is_predefined(s):
        config: Any = dep.config
    else:
        kind, pct, interval = dep.traffic_routing()
        trc: list[tuple[str, Any]] = [("type", kind)]
        if kind != "AllAtOnce":
            block = "time_based_canary {" if kind == "TimeBasedCanary" else "time_based_linear {"
            trc.append((block, [("interval", _minutes(interval)), ("percentage", pct)]))
        _block(
            lines,
            'resource "aws_codedeploy_deployment_config" "this"',
            [
                ("deployment_config_name", _custom_name(s)),
                ("compute_platform", "ECS"),
                ("traffic_routing_config {", trc),
            ],
        )
        lines.append("")
        config = _Expr("aws_codedeploy_deployment_config.this.id")
    ready: list[tuple[str, Any]] = [("action_on_timeout", dep.ready_wait.action_on_timeout)]
    if dep.ready_wait.action_on_timeout == "STOP_DEPLOYMENT":
        ready.append(("wait_time_in_minutes", _minutes(dep.ready_wait.wait)))
    pair: list[tuple[str, Any]] = [
        ("target_group {", [("name", _Expr("aws_lb_target_group.blue.name"))]),
        ("target_group {", [("name", _Expr("aws_lb_target_group.green.name"))]),
        ("prod_traffic_route {", [("listener_arns", [_Expr("var.prod_listener_arn")])]),
    ]
    if s.load_balancer.test_listener:
        pair.append(("test_traffic_route {", [("listener_arns", [_Expr("var.test_listener_arn")])]))
    body: list[tuple[str, Any]] = [
        ("app_name", _Expr("var.codedeploy_app_name")),
        ("deployment_group_name", s.name),
        ("service_role_arn", _Expr("var.codedeploy_role_arn")),
        ("deployment_config_name", config),
        (
            "deployment_style {",
            [("deployment_type", "BLUE_GREEN"), ("deployment_option", "WITH_TRAFFIC_CONTROL")],
        ),
        (
            "blue_green_deployment_config {",
            [
                ("deployment_ready_option {", ready),
                (
                    "terminate_blue_instances_on_deployment_success {",
                    [
                        ("action", "TERMINATE"),
                        ("termination_wait_time_in_minutes", _minutes(dep.termination_wait)),
                    ],
                ),
            ],
        ),
        (
            "auto_rollback_configuration {",
            [("enabled", bool(dep.auto_rollback)), ("events", list(dep.auto_rollback))],
        ),
        (
            "ecs_service {",
            [
                ("cluster_name", _Expr("var.cluster_name")),
                ("service_name", _Expr("aws_ecs_service.this.name")),
            ],
        ),
        ("load_balancer_info {", [("target_group_pair_info {", pair)]),
    ]
    if dep.alarms:
        body.append(
            (
                "alarm_configuration {",
                [("enabled", True), ("alarms", [alarm_refs[n] for n in dep.alarms])],
            )
        )
    # The service: CodeDeploy shifts its traffic; its bounds, grace period and stop timeout are
    # the service's and the task definition's.
    service = _tf_task_and_service(s, lines, _Expr("var.cluster_name"))
    service += [
        ("deployment_controller {", [("type", "CODE_DEPLOY")]),
        (
            "load_balancer {",
            [
                ("target_group_arn", _Expr("aws_lb_target_group.blue.arn")),
                ("container_name", "app"),
                ("container_port", 80),
            ],
        ),
    ]
    _block(lines, 'resource "aws_ecs_service" "this"', service)
    lines.append("")
    _block(lines, 'resource "aws_codedeploy_deployment_group" "this"', body)


def _tf_task_and_service(s: Scenario, lines: list[str], cluster: Any) -> list[tuple[str, Any]]:
    """Write the task definition (the container's stop timeout, the task size) and return the
    service's arguments that both controllers share (bounds, grace period)."""
    cpu, memory = fargate_units(s)
    container = {
        "name": "app",
        "image": _Expr("var.container_image"),
        "essential": True,
        "portMappings": [{"containerPort": 80}],
        "stopTimeout": int(math.ceil(s.service.stop_timeout)),
    }
    _block(
        lines,
        'resource "aws_ecs_task_definition" "this"',
        [
            ("family", s.name),
            ("cpu", str(cpu)),
            ("memory", str(memory)),
            ("network_mode", "awsvpc"),
            ("requires_compatibilities", ["FARGATE"]),
            ("container_definitions", _Expr(f"jsonencode([{_value(container)}])")),
        ],
    )
    lines.append("")
    body: list[tuple[str, Any]] = [
        ("name", s.name),
        ("cluster", cluster),
        ("task_definition", _Expr("aws_ecs_task_definition.this.arn")),
        ("desired_count", s.service.tasks),
        ("launch_type", "FARGATE"),
        (
            "health_check_grace_period_seconds",
            int(math.ceil(s.service.health_check_grace_period)),
        ),
        ("deployment_minimum_healthy_percent", s.service.minimum_healthy_percent),
        ("deployment_maximum_percent", s.service.maximum_percent),
        ("network_configuration {", [("subnets", _Expr("var.subnet_ids"))]),
    ]
    return body


def _tf_ecs(s: Scenario, lines: list[str], alarm_refs: dict) -> None:
    dep = s.deployment
    dc: list[tuple[str, Any]] = [("strategy", dep.strategy)]
    if dep.strategy != "ROLLING" or dep.bake_time is not None:  # a rolling update has none
        dc.append(("bake_time_in_minutes", _minutes(dep.bake_seconds)))
    if dep.strategy == "LINEAR":
        dc.append(
            (
                "linear_configuration {",
                [
                    ("step_percent", _num(dep.linear.step_percent)),
                    ("step_bake_time_in_minutes", _minutes(dep.linear.step_bake_time)),
                ],
            )
        )
    if dep.strategy == "CANARY":
        dc.append(
            (
                "canary_configuration {",
                [
                    ("canary_percent", _num(dep.canary.canary_percent)),
                    ("canary_bake_time_in_minutes", _minutes(dep.canary.canary_bake_time)),
                ],
            )
        )
    for stage, hook in dep.hooks.items():
        if hook.kind == "pause":
            continue  # the provider has no PAUSE hooks yet: said in the header of the file
        dc.append(
            (
                "lifecycle_hook {",
                [
                    ("hook_target_arn", _Expr("var.hook_lambda_arn")),
                    ("role_arn", _Expr("var.hook_role_arn")),
                    ("lifecycle_stages", [stage]),
                ],
            )
        )
    body = _tf_task_and_service(s, lines, _Expr("var.cluster_arn"))
    body += [
        ("deployment_controller {", [("type", "ECS")]),
        ("deployment_configuration {", dc),
        (
            "deployment_circuit_breaker {",
            [("enable", dep.circuit_breaker.enable), ("rollback", dep.circuit_breaker.rollback)],
        ),
    ]
    if dep.alarms:
        body.append(
            (
                "alarms {",
                [
                    ("alarm_names", [alarm_refs[n] for n in dep.alarms]),
                    ("enable", True),
                    ("rollback", dep.alarm_rollback),
                ],
            )
        )
    lb: list[tuple[str, Any]] = [
        ("target_group_arn", _Expr("aws_lb_target_group.blue.arn")),
        ("container_name", "app"),
        ("container_port", 80),
    ]
    if not _rolling(s):
        adv: list[tuple[str, Any]] = [
            ("alternate_target_group_arn", _Expr("aws_lb_target_group.green.arn")),
            ("production_listener_rule", _Expr("var.production_listener_rule_arn")),
            ("role_arn", _Expr("var.load_balancer_role_arn")),
        ]
        if s.load_balancer.test_listener:
            adv.append(("test_listener_rule", _Expr("var.test_listener_rule_arn")))
        lb.append(("advanced_configuration {", adv))
    body.append(("load_balancer {", lb))
    _block(lines, 'resource "aws_ecs_service" "this"', body)

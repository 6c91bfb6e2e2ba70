"""A scenario's deployment settings as snippets for the user's own definition.

``cloudformation`` and ``terraform`` give the deployment (CodeDeploy deployment config and
group, or the ECS service: its deployment configuration and bounds, health-check grace period,
and a task definition with the container's stop timeout), the target groups (health checks,
deregistration delay, slow start, algorithm; one for a rolling update) and the alarms; what only
the user knows (VPC, subnets, ARNs, names, the image) is a parameter or variable. ``ecs-json``
is the AWS CLI input (``update-service`` or ``create-deployment-group``), ``appspec`` the
CodeDeploy AppSpec with hook skeletons. Importing an export gives back the same deployment
settings (a property the tests check).
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

from ..scenario import CODEDEPLOY_CONFIGS, Scenario, ScenarioError

FORMATS = ("cloudformation", "terraform", "ecs-json", "appspec")
_TG_LOGICAL = {"blue": "BlueTargetGroup", "green": "GreenTargetGroup"}
_TG_TF = {"blue": "aws_lb_target_group.blue", "green": "aws_lb_target_group.green"}


def export(scenario: Scenario, to: str) -> str:
    """The deployment settings of ``scenario`` as text in format ``to`` (see :data:`FORMATS`)."""
    dep = scenario.deployment
    if dep.controller not in ("codedeploy", "ecs"):
        raise ScenarioError(
            "export",
            "deployment.controller",
            f"controller '{dep.controller}' has no AWS definition to export; expected "
            "codedeploy or ecs",
        )
    if dep.controller == "ecs" and dep.strategy == "ROLLING":
        _check_rolling(scenario)
    if to == "cloudformation":
        return cloudformation(scenario)
    if to == "terraform":
        return terraform(scenario)
    if to == "ecs-json":
        return ecs_json(scenario)
    if to == "appspec":
        return appspec(scenario)
    raise ScenarioError("export", "--to", f"expected one of {', '.join(FORMATS)}, got {to!r}")


def _check_rolling(s: Scenario) -> None:
    """A rolling update has one target group: an alarm on 'green' has no AWS form."""
    for a in s.alarms:
        groups = [a.target_group] + [ref.target_group for ref in (a.metrics or {}).values()]
        if "green" in groups:
            raise ScenarioError(
                "export",
                f"alarms.{a.name}",
                "a rolling update has one target group: an alarm on target group 'green' "
                "cannot be written (use blue or the load balancer)",
            )


def _rolling(s: Scenario) -> bool:
    return s.deployment.controller == "ecs" and s.deployment.strategy == "ROLLING"


def _minutes(seconds: float) -> int:
    return int(math.ceil(seconds / 60.0 - 1e-9))


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _custom_name(scenario: Scenario) -> str:
    kind, pct, interval = scenario.deployment.traffic_routing()
    if kind == "AllAtOnce":
        return "bluegreen-sim-AllAtOnce"
    word = "Canary" if kind == "TimeBasedCanary" else "Linear"
    every = "" if word == "Canary" else "Every"
    return f"bluegreen-sim-{word}{pct}Percent{every}{_minutes(interval)}Minutes"


def _is_predefined(scenario: Scenario) -> bool:
    return isinstance(scenario.deployment.config, str) and (
        scenario.deployment.config in CODEDEPLOY_CONFIGS
    )


# --------------------------------------------------------------------------------------------
# CloudFormation


def cloudformation(s: Scenario) -> str:
    dep, lb = s.deployment, s.load_balancer
    params: dict[str, Any] = {
        "VpcId": {"Type": "AWS::EC2::VPC::Id"},
        "LoadBalancerFullName": {"Type": "String", "Description": "app/NAME/ID of your ALB"},
    }
    res: dict[str, Any] = {}
    for color in ("blue",) if _rolling(s) else ("blue", "green"):
        res[_TG_LOGICAL[color]] = {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": _cfn_target_group(s),
        }
    alarm_ids = {}
    for i, a in enumerate(s.alarms):
        lid = f"Alarm{i + 1}"
        alarm_ids[a.name] = lid
        res[lid] = {"Type": "AWS::CloudWatch::Alarm", "Properties": _cfn_alarm(a)}
    if dep.controller == "codedeploy":
        params.update(
            {
                "ApplicationName": {"Type": "String"},
                "ServiceRoleArn": {"Type": "String"},
                "ClusterName": {"Type": "String"},
                "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>"},
                "ContainerImage": {"Type": "String", "Description": "your application's image"},
                "ProdListenerArn": {"Type": "String"},
            }
        )
        if lb.test_listener:
            params["TestListenerArn"] = {"Type": "String"}
        if _is_predefined(s):
            config_name: Any = dep.config
        else:
            kind, pct, interval = dep.traffic_routing()
            trc: dict[str, Any] = {"Type": kind}
            if kind == "TimeBasedCanary":
                trc["TimeBasedCanary"] = {
                    "CanaryPercentage": pct,
                    "CanaryInterval": _minutes(interval),
                }
            elif kind == "TimeBasedLinear":
                trc["TimeBasedLinear"] = {
                    "LinearPercentage": pct,
                    "LinearInterval": _minutes(interval),
                }
            res["DeploymentConfig"] = {
                "Type": "AWS::CodeDeploy::DeploymentConfig",
                "Properties": {
                    "DeploymentConfigName": _custom_name(s),
                    "ComputePlatform": "ECS",
                    "TrafficRoutingConfig": trc,
                },
            }
            config_name = {"Ref": "DeploymentConfig"}
        res["TaskDefinition"] = {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": _cfn_task_definition(s),
        }
        res["Service"] = {"Type": "AWS::ECS::Service", "Properties": _cfn_service(s, alarm_ids)}
        res["DeploymentGroup"] = {
            "Type": "AWS::CodeDeploy::DeploymentGroup",
            "Properties": _cfn_group(s, config_name, alarm_ids),
        }
    else:
        params.update(
            {
                "ClusterName": {"Type": "String"},
                "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>"},
                "ContainerImage": {"Type": "String", "Description": "your application's image"},
            }
        )
        if not _rolling(s):
            params["ProductionListenerRuleArn"] = {"Type": "String"}
            params["LoadBalancerRoleArn"] = {"Type": "String"}
        if lb.test_listener and not _rolling(s):
            params["TestListenerRuleArn"] = {"Type": "String"}
        if any(h.kind != "pause" for h in dep.hooks.values()):
            params["HookLambdaArn"] = {"Type": "String"}
            params["HookRoleArn"] = {"Type": "String"}
        res["TaskDefinition"] = {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": _cfn_task_definition(s),
        }
        res["Service"] = {"Type": "AWS::ECS::Service", "Properties": _cfn_service(s, alarm_ids)}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Deployment settings of bluegreen-sim scenario {s.name!r}",
        "Parameters": params,
        "Resources": res,
    }
    head = (
        f"# Exported by 'bluegreen-sim export' from scenario {s.name!r}: paste the resources "
        "into your template\n# (or deploy as is with the parameters filled in).\n"
    )
    return head + yaml.safe_dump(template, sort_keys=False, width=100)


def _cfn_target_group(s: Scenario) -> dict[str, Any]:
    lb, hc = s.load_balancer, s.load_balancer.health_check
    network = lb.type == "network"
    props: dict[str, Any] = {
        "Port": 80,
        "Protocol": "TCP" if network else "HTTP",
        "TargetType": "ip",
        "VpcId": {"Ref": "VpcId"},
        "HealthCheckEnabled": hc.enabled,
        "HealthCheckIntervalSeconds": _num(hc.interval),
        "HealthCheckTimeoutSeconds": _num(hc.timeout),
        "HealthyThresholdCount": hc.healthy_threshold,
        "UnhealthyThresholdCount": hc.unhealthy_threshold,
    }
    attrs = [
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(_num(lb.deregistration_delay))}
    ]
    if not network:
        attrs += [
            {"Key": "slow_start.duration_seconds", "Value": str(_num(lb.slow_start))},
            {"Key": "load_balancing.algorithm.type", "Value": lb.routing},
        ]
    props["TargetGroupAttributes"] = attrs
    return props


def _cfn_alarm(a: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"AlarmName": a.name}
    if a.expression is not None:
        metrics = []
        for mid, ref in a.metrics.items():
            metrics.append(
                {
                    "Id": mid,
                    "ReturnData": False,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApplicationELB",
                            "MetricName": ref.metric,
                            "Dimensions": _cfn_dims(ref.metric, ref.target_group),
                        },
                        "Period": int(a.period),
                        "Stat": ref.statistic,
                    },
                }
            )
        metrics.append({"Id": "ratio", "Expression": a.expression, "ReturnData": True})
        p["Metrics"] = metrics
    else:
        p.update(
            {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": a.metric,
                "Dimensions": _cfn_dims(a.metric, a.target_group),
                "Period": int(a.period),
            }
        )
        if a.extended_statistic is not None:
            p["ExtendedStatistic"] = a.extended_statistic
        else:
            p["Statistic"] = a.statistic
    p["EvaluationPeriods"] = a.evaluation_periods
    if a.datapoints_to_alarm is not None:
        p["DatapointsToAlarm"] = a.datapoints_to_alarm
    p.update(
        {
            "Threshold": _num(a.threshold),
            "ComparisonOperator": a.comparison,
            "TreatMissingData": a.treat_missing_data,
        }
    )
    return p


def _cfn_dims(metric: str, tg: str | None) -> list[dict[str, Any]]:
    dims = [{"Name": "LoadBalancer", "Value": {"Ref": "LoadBalancerFullName"}}]
    if tg is not None:
        dims.append(
            {
                "Name": "TargetGroup",
                "Value": {"Fn::GetAtt": [_TG_LOGICAL[tg], "TargetGroupFullName"]},
            }
        )
    return dims


def _cfn_group(s: Scenario, config_name: Any, alarm_ids: dict[str, str]) -> dict[str, Any]:
    dep = s.deployment
    ready: dict[str, Any] = {"ActionOnTimeout": dep.ready_wait.action_on_timeout}
    if dep.ready_wait.action_on_timeout == "STOP_DEPLOYMENT":
        ready["WaitTimeInMinutes"] = _minutes(dep.ready_wait.wait)
    pair: dict[str, Any] = {
        "TargetGroups": [
            {"Name": {"Fn::GetAtt": [_TG_LOGICAL[c], "TargetGroupName"]}} for c in ("blue", "green")
        ],
        "ProdTrafficRoute": {"ListenerArns": [{"Ref": "ProdListenerArn"}]},
    }
    if s.load_balancer.test_listener:
        pair["TestTrafficRoute"] = {"ListenerArns": [{"Ref": "TestListenerArn"}]}
    props: dict[str, Any] = {
        "ApplicationName": {"Ref": "ApplicationName"},
        "ServiceRoleArn": {"Ref": "ServiceRoleArn"},
        "DeploymentConfigName": config_name,
        "DeploymentStyle": {
            "DeploymentType": "BLUE_GREEN",
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "BlueGreenDeploymentConfiguration": {
            "DeploymentReadyOption": ready,
            "TerminateBlueInstancesOnDeploymentSuccess": {
                "Action": "TERMINATE",
                "TerminationWaitTimeInMinutes": _minutes(dep.termination_wait),
            },
        },
        "AutoRollbackConfiguration": {
            "Enabled": bool(dep.auto_rollback),
            **({"Events": list(dep.auto_rollback)} if dep.auto_rollback else {}),
        },
        "ECSServices": [
            {
                "ClusterName": {"Ref": "ClusterName"},
                "ServiceName": {"Fn::GetAtt": ["Service", "Name"]},
            }
        ],
        "LoadBalancerInfo": {"TargetGroupPairInfoList": [pair]},
    }
    if dep.alarms:
        props["AlarmConfiguration"] = {
            "Enabled": True,
            "Alarms": [{"Name": {"Ref": alarm_ids[n]}} for n in dep.alarms],
        }
    return props


def _ecs_deployment_configuration(
    s: Scenario, alarm_names: list[Any], hook_arn: Any, role_arn: Any, camel: bool = False
) -> dict[str, Any]:
    dep = s.deployment
    dc: dict[str, Any] = {"Strategy": dep.strategy}
    if dep.strategy != "ROLLING" or dep.bake_time is not None:  # a rolling update has none
        dc["BakeTimeInMinutes"] = _minutes(dep.bake_seconds)
    dc["MinimumHealthyPercent"] = s.service.minimum_healthy_percent
    dc["MaximumPercent"] = s.service.maximum_percent
    if dep.strategy == "LINEAR":
        dc["LinearConfiguration"] = {
            "StepPercent": _num(dep.linear.step_percent),
            "StepBakeTimeInMinutes": _minutes(dep.linear.step_bake_time),
        }
    if dep.strategy == "CANARY":
        dc["CanaryConfiguration"] = {
            "CanaryPercent": _num(dep.canary.canary_percent),
            "CanaryBakeTimeInMinutes": _minutes(dep.canary.canary_bake_time),
        }
    cb = dep.circuit_breaker
    dc["DeploymentCircuitBreaker"] = {"Enable": cb.enable, "Rollback": cb.rollback}
    # Written only when not AWS's defaults: cfn-lint's schemas (1.51) do not know them yet.
    if cb.enable and not cb.reset_on_healthy_task:
        dc["DeploymentCircuitBreaker"]["ResetOnHealthyTask"] = False
    if cb.enable and (cb.threshold.type, cb.threshold.value) != ("BOUNDED_PERCENT", 50):
        dc["DeploymentCircuitBreaker"]["ThresholdConfiguration"] = {
            "Type": cb.threshold.type,
            "Value": cb.threshold.value,
        }
    if alarm_names:
        dc["Alarms"] = {"AlarmNames": alarm_names, "Enable": True, "Rollback": dep.alarm_rollback}
    hooks = []
    for stage, hook in dep.hooks.items():
        # TargetType and TimeoutConfiguration only when needed: cfn-lint's schemas (1.51) do
        # not know them yet, and AWS_LAMBDA is the default.
        h: dict[str, Any] = {"LifecycleStages": [stage]}
        if hook.kind == "pause":
            h["TargetType"] = "PAUSE"
        else:
            h["HookTargetArn"] = hook_arn
            h["RoleArn"] = role_arn
        if hook.timeout is not None:
            h["TimeoutConfiguration"] = {
                "TimeoutInMinutes": _minutes(hook.timeout),
                "Action": hook.timeout_action,
            }
        hooks.append(h)
    if hooks:
        dc["LifecycleHooks"] = hooks
    return _camel(dc) if camel else dc


def fargate_units(s: Scenario) -> tuple[int, int]:
    """(CPU units, MiB) of the service's task size."""
    return int(round(s.service.cpu * 1024)), int(round(s.service.memory * 1024))


def _cfn_task_definition(s: Scenario) -> dict[str, Any]:
    cpu, memory = fargate_units(s)
    return {
        "Family": s.name,
        "Cpu": str(cpu),
        "Memory": str(memory),
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "ContainerDefinitions": [
            {
                "Name": "app",
                "Image": {"Ref": "ContainerImage"},
                "Essential": True,
                "PortMappings": [{"ContainerPort": 80}],
                "StopTimeout": int(math.ceil(s.service.stop_timeout)),
            }
        ],
    }


def _cfn_service(s: Scenario, alarm_ids: dict[str, str]) -> dict[str, Any]:
    """The ECS service: for CodeDeploy, the task set bounds and grace period only (CodeDeploy
    shifts the traffic); for ECS, the whole deployment configuration."""
    names = [{"Ref": alarm_ids[n]} for n in s.deployment.alarms]
    lb: dict[str, Any] = {
        "ContainerName": "app",
        "ContainerPort": 80,
        "TargetGroupArn": {"Ref": "BlueTargetGroup"},
    }
    common = {
        "Cluster": {"Ref": "ClusterName"},
        "TaskDefinition": {"Ref": "TaskDefinition"},
        "DesiredCount": s.service.tasks,
        "HealthCheckGracePeriodSeconds": int(math.ceil(s.service.health_check_grace_period)),
        "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": {"Ref": "SubnetIds"}}},
        "LaunchType": "FARGATE",
    }
    if s.deployment.controller == "codedeploy":
        return {
            **common,
            "DeploymentController": {"Type": "CODE_DEPLOY"},
            "DeploymentConfiguration": {
                "MinimumHealthyPercent": s.service.minimum_healthy_percent,
                "MaximumPercent": s.service.maximum_percent,
            },
            "LoadBalancers": [lb],
        }
    if not _rolling(s):
        lb["AdvancedConfiguration"] = {
            "AlternateTargetGroupArn": {"Ref": "GreenTargetGroup"},
            "ProductionListenerRule": {"Ref": "ProductionListenerRuleArn"},
            "RoleArn": {"Ref": "LoadBalancerRoleArn"},
        }
        if s.load_balancer.test_listener:
            lb["AdvancedConfiguration"]["TestListenerRule"] = {"Ref": "TestListenerRuleArn"}
    return {
        **common,
        "DeploymentController": {"Type": "ECS"},
        "DeploymentConfiguration": _ecs_deployment_configuration(
            s, names, {"Ref": "HookLambdaArn"}, {"Ref": "HookRoleArn"}
        ),
        "LoadBalancers": [lb],
    }


def _camel(x: Any) -> Any:
    if isinstance(x, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_camel(v) for v in x]
    return x


# --------------------------------------------------------------------------------------------
# ECS / CodeDeploy CLI input, AppSpec


def ecs_json(s: Scenario) -> str:
    dep = s.deployment
    if dep.controller == "ecs":
        body: dict[str, Any] = {
            "cluster": "<CLUSTER>",
            "service": "<SERVICE>",
            "desiredCount": s.service.tasks,
            "healthCheckGracePeriodSeconds": int(math.ceil(s.service.health_check_grace_period)),
            "deploymentController": {"type": "ECS"},
            "deploymentConfiguration": _ecs_deployment_configuration(
                s, list(dep.alarms), "<HOOK_LAMBDA_ARN>", "<HOOK_ROLE_ARN>", camel=True
            ),
        }
        return json.dumps(body, indent=2) + "\n"
    ready: dict[str, Any] = {"actionOnTimeout": dep.ready_wait.action_on_timeout}
    if dep.ready_wait.action_on_timeout == "STOP_DEPLOYMENT":
        ready["waitTimeInMinutes"] = _minutes(dep.ready_wait.wait)
    pair: dict[str, Any] = {
        "targetGroups": [{"name": "<BLUE_TARGET_GROUP>"}, {"name": "<GREEN_TARGET_GROUP>"}],
        "prodTrafficRoute": {"listenerArns": ["<PROD_LISTENER_ARN>"]},
    }
    if s.load_balancer.test_listener:
        pair["testTrafficRoute"] = {"listenerArns": ["<TEST_LISTENER_ARN>"]}
    body = {
        "applicationName": "<APPLICATION>",
        "deploymentGroupName": s.name,
        "deploymentConfigName": dep.config if _is_predefined(s) else _custom_name(s),
        "serviceRoleArn": "<CODEDEPLOY_ROLE_ARN>",
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "blueGreenDeploymentConfiguration": {
            "deploymentReadyOption": ready,
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": _minutes(dep.termination_wait),
            },
        },
        "autoRollbackConfiguration": {
            "enabled": bool(dep.auto_rollback),
            "events": list(dep.auto_rollback),
        },
        "alarmConfiguration": {
            "enabled": bool(dep.alarms),
            "alarms": [{"name": n} for n in dep.alarms],
        },
        "ecsServices": [{"serviceName": "<SERVICE>", "clusterName": "<CLUSTER>"}],
        "loadBalancerInfo": {"targetGroupPairInfoList": [pair]},
    }
    return json.dumps(body, indent=2) + "\n"


def custom_config_command(s: Scenario) -> str | None:
    """The ``aws deploy create-deployment-config`` command a custom config needs, if any."""
    if s.deployment.controller != "codedeploy" or _is_predefined(s):
        return None
    kind, pct, interval = s.deployment.traffic_routing()
    if kind == "AllAtOnce":
        trc = 'type="AllAtOnce"'
    elif kind == "TimeBasedCanary":
        trc = (
            f'type="TimeBasedCanary",timeBasedCanary={{canaryPercentage={pct},'
            f"canaryInterval={_minutes(interval)}}}"
        )
    else:
        trc = (
            f'type="TimeBasedLinear",timeBasedLinear={{linearPercentage={pct},'
            f"linearInterval={_minutes(interval)}}}"
        )
    return (
        f"aws deploy create-deployment-config --deployment-config-name {_custom_name(s)} "
        f"--compute-platform ECS --traffic-routing-config '{trc}'"
    )


def appspec(s: Scenario) -> str:
    if s.deployment.controller != "codedeploy":
        raise ScenarioError(
            "export",
            "--to appspec",
            "an AppSpec is for controller codedeploy; "
            "ECS lifecycle hooks are in the service (use --to cloudformation, "
            "terraform or ecs-json)",
        )
    spec: dict[str, Any] = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": "<TASK_DEFINITION>",
                        "LoadBalancerInfo": {
                            "ContainerName": "<CONTAINER_NAME>",
                            "ContainerPort": 80,
                        },
                    },
                }
            }
        ],
    }
    if s.deployment.hooks:
        spec["Hooks"] = [{name: f"<LAMBDA_FOR_{name.upper()}>"} for name in s.deployment.hooks]
    return "# Exported by 'bluegreen-sim export': fill the <PLACEHOLDERS>.\n" + yaml.safe_dump(
        spec, sort_keys=False
    )


# --------------------------------------------------------------------------------------------
# Terraform


def terraform(s: Scenario) -> str:
    from .export_tf import terraform as tf

    return tf(s)

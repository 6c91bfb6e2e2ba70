"""``import_aws`` on files written the way people write them (``tests/interop_files/``).

Each test imports real-looking files (CloudFormation YAML with short tags, parameters and
conditions; JSON with ``Fn::``; a CDK synth output; Terraform with variables, tfvars, locals and
conditionals; the terraform-aws-modules calls; AppSpec files; AWS CLI inputs and ``describe-*``
outputs) and checks the scenario's deployment settings against the file, and the report's
mapped / defaulted / ignored / looks-wrong lines. cfn-lint's schema check costs about a second a
template, so only the test about wrong keys runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bluegreen_sim import import_aws
from bluegreen_sim.interop.hcl_eval import Evaluator
from bluegreen_sim.interop.importer import import_raw
from bluegreen_sim.interop.model import Ref, Unresolved
from bluegreen_sim.interop.report import scenario_yaml
from bluegreen_sim.scenario import ScenarioError, TrafficRouting

FILES = Path(__file__).parent / "interop_files"


def imp(*names: str, **kwargs):
    kwargs.setdefault("lint", False)
    return import_aws([FILES / n for n in names], **kwargs)


def lines(items) -> str:
    return "\n".join(" ".join(str(x) for x in item) for item in items)


# --------------------------------------------------------------------------------------------
# CloudFormation


def test_cfn_yaml_with_short_tags_parameters_and_conditions():
    s, report = imp("cfn-codedeploy.yaml")
    dep = s.deployment
    assert dep.controller == "codedeploy"
    assert dep.config == TrafficRouting(type="TimeBasedCanary", percentage=20, interval=600)
    assert dep.termination_wait == 15 * 60  # !If [IsProd, 60, 15] with Environment=staging
    assert dep.auto_rollback == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert dep.ready_wait.action_on_timeout == "CONTINUE_DEPLOYMENT"
    # The CPU alarm is attached but is not an ALB metric: left out, and said so.
    assert dep.alarms == ["staging-web-target-5xx", "staging-web-error-rate"]
    lb = s.load_balancer
    assert lb.test_listener  # the TestListener's condition holds
    assert (lb.health_check.interval, lb.health_check.timeout) == (10, 5)
    assert (lb.health_check.healthy_threshold, lb.health_check.unhealthy_threshold) == (3, 2)
    assert (lb.deregistration_delay, lb.slow_start, lb.idle_timeout) == (30, 0, 120)
    assert (s.service.tasks, s.service.cpu, s.service.memory) == (4, 0.5, 1.0)  # FindInMap
    alarms = {a.name: a for a in s.alarms}
    assert alarms["staging-web-target-5xx"].target_group == "green"
    assert alarms["staging-web-target-5xx"].m_of_n == (2, 2)
    rate = alarms["staging-web-error-rate"]
    assert rate.ratio == (100.0, "errors", "requests")  # "(errors/requests)*100"
    assert rate.metrics["requests"].metric == "RequestCount" and rate.period == 60
    assert alarms["staging-web-latency"].extended_statistic == "p99"
    ignored, wrong = lines(report.ignored), lines(report.wrong)
    assert "CpuAlarm" in ignored and "AWS/ECS/CPUUtilization" in ignored
    assert "stickiness" in ignored and "HealthCheckGracePeriodSeconds" not in ignored
    assert s.service.health_check_grace_period == 60  # HealthCheckGracePeriodSeconds
    assert "LatencyAlarm" in wrong and "not attached" in wrong
    assert "workload" in report.text().lower()


def test_a_parameters_file_in_either_shape_and_param_overrides():
    s, _ = imp("cfn-codedeploy.yaml", "params-cli.json")
    assert s.service.tasks == 12 and s.deployment.termination_wait == 3600
    assert s.load_balancer.slow_start == 60 and s.service.cpu == 1.0
    s, report = imp("cfn-codedeploy.yaml", "params-pipeline.json")
    assert s.deployment.config.percentage == 10
    assert "says canary 20%" in lines(report.wrong)  # the config's name no longer matches
    s, _ = imp("cfn-codedeploy.yaml", "params-cli.json", params={"DesiredCount": "7"})
    assert s.service.tasks == 7  # --param wins over the file


def test_the_codedeploy_blue_green_transform_and_its_hook():
    s, report = imp("cfn-bluegreen-transform.yaml")
    dep = s.deployment
    assert dep.controller == "codedeploy"
    assert dep.config == TrafficRouting(type="TimeBasedLinear", percentage=20, interval=120)
    assert dep.termination_wait == 300
    assert set(dep.hooks) == {"BeforeAllowTraffic", "AfterAllowTestTraffic"}
    hc = s.load_balancer.health_check
    assert (hc.interval, hc.timeout, hc.healthy_threshold, hc.unhealthy_threshold) == (5, 2, 2, 4)
    assert s.service.tasks == 1 and s.service.cpu == 0.25 and s.service.memory == 0.5
    assert "assumed to succeed" in lines(report.defaulted)


def test_a_json_template_with_fn_forms_and_an_ecs_native_linear_strategy():
    s, _ = imp("cfn-ecs-native.json")
    dep = s.deployment
    assert dep.controller == "ecs" and dep.strategy == "LINEAR"
    assert (dep.linear.step_percent, dep.linear.step_bake_time, dep.bake_time) == (25, 180, 600)
    assert dep.circuit_breaker.enable and dep.alarm_rollback
    assert dep.alarms == ["live-api-latency-p99"]
    hook = dep.hooks["POST_TEST_TRAFFIC_SHIFT"]
    assert (hook.kind, hook.timeout, hook.timeout_action) == ("lambda", 900, "ROLLBACK")
    assert s.service.tasks == 6  # Fn::If on a condition of a parameter default
    assert s.load_balancer.test_listener and s.load_balancer.routing == (
        "least_outstanding_requests"
    )
    assert s.alarms[0].target_group == "green"


def test_a_cdk_synth_template():
    s, report = imp("cdk-synth.template.json")
    dep = s.deployment
    assert dep.config == "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"
    assert dep.termination_wait == 0 and s.load_balancer.test_listener
    assert dep.alarms == ["ApiUnhealthyAlarm5E8B0C1D"]  # no AlarmName: the logical id
    assert s.load_balancer.health_check.interval == 20
    assert s.load_balancer.deregistration_delay == 10
    assert (s.service.tasks, s.service.cpu, s.service.memory) == (3, 1.0, 2.0)
    assert "DEPLOYMENT_STOP_ON_REQUEST" in lines(report.ignored)
    assert "no AlarmName" in lines(report.defaulted)


def test_cfn_lint_finds_keys_aws_does_not_know():
    _, report = imp("bad/wrong-keys.yaml", lint=True)
    wrong = lines(report.wrong)
    assert "HealthCheckIntervalSecs" in wrong and "a key AWS does not know" in wrong
    assert "TerminationWaitTimeInMinute" in wrong


def test_an_unresolved_value_takes_the_default_and_says_why(tmp_path):
    tpl = tmp_path / "t.yaml"
    tpl.write_text(
        "Resources:\n"
        "  Svc:\n    Type: AWS::ECS::Service\n    Properties:\n"
        "      DesiredCount: !ImportValue shared-count\n"
        "      DeploymentController: {Type: CODE_DEPLOY}\n"
        "  Group:\n    Type: AWS::CodeDeploy::DeploymentGroup\n    Properties:\n"
        "      DeploymentConfigName: !Ref ConfigName\n"
        "      BlueGreenDeploymentConfiguration:\n"
        "        TerminateBlueInstancesOnDeploymentSuccess:\n"
        "          {Action: TERMINATE, TerminationWaitTimeInMinutes: !Ref Wait}\n"
        "  Custom:\n    Type: Custom::Thing\n"
        "Parameters:\n  ConfigName: {Type: String}\n  Wait: {Type: Number}\n"
    )
    s, report = import_aws(tpl, lint=False)
    assert s.service.tasks == 10 and s.deployment.termination_wait == 3600
    assert s.deployment.config == "CodeDeployDefault.ECSAllAtOnce"
    defaulted = lines(report.defaulted)
    assert "Fn::ImportValue" in defaulted and "parameter Wait has no Default" in defaulted
    assert "parameter ConfigName has no Default" in defaulted
    assert "custom resource Custom::Thing" in lines(report.ignored)


# --------------------------------------------------------------------------------------------
# Terraform


TF = ("terraform/main.tf", "terraform/variables.tf")


def test_terraform_variables_defaults_locals_and_conditionals():
    s, report = imp(*TF)
    dep = s.deployment
    assert dep.config == TrafficRouting(type="TimeBasedCanary", percentage=10, interval=300)
    assert dep.termination_wait == 300 and dep.alarms == ["staging-checkout-5xx-rate"]
    assert s.service.tasks == 2 and s.service.cpu == 0.5
    assert s.load_balancer.health_check.healthy_threshold == 3  # local.health.healthy
    assert s.alarms[0].ratio == (100.0, "m1", "m2") and s.alarms[0].threshold == 5
    assert s.alarms[0].metrics["m1"].target_group == "green"
    assert not any("stickiness" in w for w, _ in report.wrong)  # unset == disabled


def test_terraform_tfvars_and_var_overrides():
    s, _ = imp(*TF, "terraform/prod.tfvars")
    assert s.deployment.config.interval == 900 and s.deployment.termination_wait == 1800
    assert s.service.tasks == 8 and s.load_balancer.slow_start == 60 and s.service.cpu == 1.0
    s, _ = imp(*TF, "terraform/prod.tfvars", variables={"desired_count": 3})
    assert s.service.tasks == 3  # --var wins over .tfvars


def test_terraform_aws_modules_are_read_and_other_modules_reported():
    s, report = imp("terraform-modules/main.tf")
    dep = s.deployment
    assert dep.controller == "ecs" and dep.strategy == "CANARY"
    assert (dep.canary.canary_percent, dep.canary.canary_bake_time, dep.bake_time) == (
        5,
        600,
        300,
    )
    hc = s.load_balancer.health_check
    assert (hc.interval, hc.timeout, hc.healthy_threshold, hc.unhealthy_threshold) == (10, 4, 2, 3)
    assert s.load_balancer.deregistration_delay == 20 and s.load_balancer.idle_timeout == 30
    assert (s.service.tasks, s.service.cpu, s.service.memory) == (6, 0.5, 1.0)
    assert "module.vpc_endpoints" in lines(report.ignored)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("${var.n > 2 ? 10 : 1}", 10),
        ('"${local.env}-svc"', "prod-svc"),
        ("${var.n * 60 + 1}", 181),
        ('${local.env == "prod" && !var.off ? "a" : "b"}', "a"),
        ("${max(var.n, 7)}", 7),
        ('${lookup({a = 1, b = 2}, "b", 0)}', 2),
        ("${aws_lb_target_group.blue.arn}", Ref("aws_lb_target_group.blue")),
    ],
)
def test_the_terraform_expression_evaluator(expr, expected):
    ev = Evaluator({"n": 3, "off": False}, {"env": '"prod"'})
    assert ev.value(expr) == expected


def test_terraform_values_known_only_at_plan_time_are_unresolved():
    ev = Evaluator({})
    for expr in ("${var.missing}", "${data.aws_vpc.main.id}", "${jsondecode(x)}", "${each.key}"):
        assert isinstance(ev.value(expr), Unresolved), expr


# --------------------------------------------------------------------------------------------
# AppSpec and CLI inputs


def test_appspec_yaml_alone_gives_codedeploy_defaults_said_so():
    s, report = imp("appspec.yaml")
    assert s.deployment.controller == "codedeploy"
    assert set(s.deployment.hooks) == {
        "BeforeInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
    }
    assert s.deployment.config == "CodeDeployDefault.ECSAllAtOnce"
    text = lines(report.defaulted)
    assert "deployment.config" in text and "health_check" in text
    assert "<TASK_DEFINITION>" in lines(report.ignored)


def test_appspec_json_with_a_hook_ecs_does_not_have():
    s, report = imp("appspec.json")
    assert set(s.deployment.hooks) == {"AfterAllowTestTraffic"}
    assert "ApplicationStart" in lines(report.wrong)


def test_a_deployment_group_cli_input_plus_an_appspec():
    s, report = imp("appspec.yaml", "create-deployment-group.json")
    dep = s.deployment
    assert dep.config == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert "spelled" in lines(report.wrong)  # "10percent" in the old guide
    assert dep.termination_wait == 300 and dep.auto_rollback == ["DEPLOYMENT_FAILURE"]
    assert len(dep.hooks) == 3


def test_create_deployment_with_the_appspec_embedded_as_a_string():
    s, _ = imp("create-deployment-group.json", "create-deployment.json")
    assert s.deployment.config == "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"
    assert s.deployment.termination_wait == 300  # from the group
    assert set(s.deployment.hooks) == {
        "BeforeInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
    }


def test_create_service_input_with_describe_outputs():
    s, report = imp("create-service.json", "describe-alarms.json", "describe-target-groups.json")
    dep = s.deployment
    assert dep.controller == "ecs" and dep.strategy == "BLUE_GREEN" and dep.bake_time == 1200
    assert dep.hooks["PRE_PRODUCTION_TRAFFIC_SHIFT"].kind == "pause"
    assert dep.hooks["PRE_PRODUCTION_TRAFFIC_SHIFT"].timeout == 1800
    assert dep.alarms == ["orders-5xx"] and s.alarms[0].target_group == "green"
    assert s.load_balancer.health_check.interval == 10 and s.service.tasks == 5
    wrong = lines(report.wrong)
    assert "Average of HTTPCode_Target_5XX_Count" in wrong
    assert "fires when it is low" in wrong


# --------------------------------------------------------------------------------------------
# The written YAML


def test_the_written_yaml_names_the_origin_of_each_value_and_reads_back():
    raw, report = import_raw([FILES / "cfn-codedeploy.yaml"], lint=False)
    text = scenario_yaml(raw, report, "header")
    assert yaml.safe_load(text) == raw
    by_line = {ln.split(":")[0].strip(): ln for ln in text.splitlines() if "#" in ln}
    assert "Resources.BlueTG.Properties.HealthCheckIntervalSeconds" in by_line["interval"]
    assert "(line " in by_line["interval"]
    assert "cfn-codedeploy.yaml" in by_line["tasks"] and "DesiredCount" in by_line["tasks"]
    assert "default:" in by_line["rps"]


def test_a_service_can_be_chosen_and_a_wrong_choice_is_named(tmp_path):
    with pytest.raises(ScenarioError, match="no ECS service 'nope'"):
        imp("cfn-ecs-native.json", service="nope")
    s, _ = imp("cfn-ecs-native.json", service="Api")
    assert s.deployment.strategy == "LINEAR"


def test_values_fargate_cannot_run_and_duplicate_alarm_names_look_wrong(tmp_path):
    tpl = tmp_path / "t.yaml"
    tpl.write_text(
        "Resources:\n"
        "  Td:\n    Type: AWS::ECS::TaskDefinition\n    Properties: {Cpu: '128', Memory: '256'}\n"
        "  Svc:\n    Type: AWS::ECS::Service\n    Properties:\n"
        "      DeploymentController: {Type: CODE_DEPLOY}\n      TaskDefinition: !Ref Td\n"
        "  A1:\n    Type: AWS::CloudWatch::Alarm\n    Properties: &alarm\n"
        "      AlarmName: same\n      Namespace: AWS/ApplicationELB\n"
        "      MetricName: RequestCount\n      Statistic: Sum\n      Period: 60\n"
        "      EvaluationPeriods: 1\n      Threshold: 1\n"
        "      ComparisonOperator: GreaterThanThreshold\n"
        "  A2:\n    Type: AWS::CloudWatch::Alarm\n    Properties: *alarm\n"
    )
    s, report = import_aws(tpl, lint=False)
    assert (s.service.cpu, s.service.memory) == (0.5, 1.0)  # the scenario's defaults
    assert [a.name for a in s.alarms] == ["same"]
    wrong = lines(report.wrong)
    assert "not a Fargate task size" in wrong and "outside Fargate's" in wrong
    assert "a second alarm named 'same'" in wrong


def test_the_blue_green_hook_test_route_turns_on_the_test_listener(tmp_path):
    text = (
        (FILES / "cfn-bluegreen-transform.yaml")
        .read_text()
        .replace(
            "              TargetGroups: [ALBTargetGroupBlue, ALBTargetGroupGreen]",
            "              TargetGroups: [ALBTargetGroupBlue, ALBTargetGroupGreen]\n"
            "              TestTrafficRoute:\n"
            "                Type: AWS::ElasticLoadBalancingV2::Listener\n"
            "                LogicalID: ALBListenerProdTraffic\n",
        )
    )
    tpl = tmp_path / "t.yaml"
    tpl.write_text(text)
    s, _ = import_aws(tpl, lint=False)
    assert s.load_balancer.test_listener
    assert not imp("cfn-bluegreen-transform.yaml")[0].load_balancer.test_listener


def test_weighted_forward_stickiness_is_reported(tmp_path):
    """Mapped to load_balancer.target_group_stickiness where the scenario has it; else
    reported as ignored (no field yet)."""
    from bluegreen_sim.scenario import LoadBalancerSpec

    text = (
        (FILES / "cfn-codedeploy.yaml")
        .read_text()
        .replace(
            "                Weight: 0\n",
            "                Weight: 0\n"
            "            TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 600}\n",
        )
    )
    tpl = tmp_path / "t.yaml"
    tpl.write_text(text)
    s, report = import_aws(tpl, lint=False)
    if "target_group_stickiness" in LoadBalancerSpec.model_fields:
        assert s.load_balancer.target_group_stickiness == 600
        assert "load.clients" in lines(report.defaulted)
    else:
        assert "stickiness on the weighted forward" in lines(report.ignored)


# --------------------------------------------------------------------------------------------
# The ECS rolling update (AWS's default strategy) and the service's task lifecycle settings


def _rolling_checks(s, report) -> None:
    dep, svc = s.deployment, s.service
    assert (dep.controller, dep.strategy, dep.bake_seconds) == ("ecs", "ROLLING", 0.0)
    assert (dep.circuit_breaker.enable, dep.circuit_breaker.rollback) == (True, True)
    assert (svc.tasks, svc.minimum_healthy_percent, svc.maximum_percent) == (6, 50, 150)
    assert svc.health_check_grace_period == 45
    assert svc.stop_timeout == 90  # the load balancer's container, not the first one
    assert s.load_balancer.deregistration_delay == 30
    assert "ROLLING" in lines(report.defaulted)  # no Strategy: said to be AWS's default


def test_a_service_without_strategy_imports_as_a_rolling_update():
    s, report = imp("cfn-rolling-service.yaml")
    _rolling_checks(s, report)
    assert s.load_balancer.health_check.interval == 15
    ignored = lines(report.ignored)
    # lb_cookie stickiness pins a client to a target, not to blue or green: not mapped, and
    # the report points to the field that is the other kind.
    assert "target group's own stickiness" in ignored
    assert "TargetGroupStickinessConfig" in ignored
    assert s.load_balancer.target_group_stickiness == 0


TF_ROLLING = """
resource "aws_ecs_task_definition" "web" {
  family                   = "web"
  cpu                      = "512"
  memory                   = "1024"
  requires_compatibilities = ["FARGATE"]
  container_definitions = jsonencode([
    { name = "log-router", image = "fluent-bit", stopTimeout = 10 },
    { name = "web", image = "example/web:3", stopTimeout = 90 },
  ])
}

resource "aws_ecs_service" "web" {
  name                               = "web"
  desired_count                      = 6
  task_definition                    = aws_ecs_task_definition.web.arn
  health_check_grace_period_seconds  = 45
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 150
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 8080
  }
}

resource "aws_lb_target_group" "web" {
  name                 = "web"
  port                 = 8080
  protocol             = "HTTP"
  deregistration_delay = 30
}
"""

CREATE_ROLLING = {
    "cluster": "prod",
    "serviceName": "web",
    "taskDefinition": "web:3",
    "desiredCount": 6,
    "healthCheckGracePeriodSeconds": 45,
    "deploymentController": {"type": "ECS"},
    "deploymentConfiguration": {
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    },
    "loadBalancers": [
        {
            "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/web/abc",
            "containerName": "web",
            "containerPort": 8080,
        }
    ],
}
TD_API = {
    "taskDefinition": {
        "family": "web",
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {"name": "log-router", "stopTimeout": 10},
            {"name": "web", "stopTimeout": 90},
        ],
    }
}
TG_API = {
    "TargetGroups": [
        {
            "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/web/abc",
            "TargetGroupName": "web",
            "Protocol": "HTTP",
        }
    ]
}


def test_terraform_and_create_service_rolling_updates(tmp_path):
    import json

    (tmp_path / "main.tf").write_text(TF_ROLLING)
    s, report = import_aws([tmp_path / "main.tf"], lint=False)
    _rolling_checks(s, report)
    (tmp_path / "svc.json").write_text(json.dumps(CREATE_ROLLING))
    (tmp_path / "td.json").write_text(json.dumps(TD_API))
    s, report = import_aws([tmp_path / "svc.json", tmp_path / "td.json"], lint=False)
    dep, svc = s.deployment, s.service
    assert (dep.controller, dep.strategy) == ("ecs", "ROLLING")
    assert (svc.minimum_healthy_percent, svc.maximum_percent) == (50, 150)
    assert (svc.health_check_grace_period, svc.stop_timeout) == (45, 90)


def test_service_bounds_outside_the_model_are_said_and_defaulted(tmp_path):
    text = (FILES / "cfn-rolling-service.yaml").read_text()
    text = text.replace("MaximumPercent: 150", "MaximumPercent: 400")
    text = text.replace("StopTimeout: 90", "StopTimeout: 600")
    (tmp_path / "t.yaml").write_text(text)
    s, report = import_aws(tmp_path / "t.yaml", lint=False)
    wrong = lines(report.wrong)
    assert "MaximumPercent 400" in wrong and "StopTimeout 600" in wrong
    assert (s.service.maximum_percent, s.service.stop_timeout) == (200, 30)

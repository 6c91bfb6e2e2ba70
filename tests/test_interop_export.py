"""``export``: snippets that AWS tools accept, and that import back to the same settings.

The exported CloudFormation passes cfn-lint (AWS's resource schemas); the Terraform parses with
python-hcl2; and, for any deployment settings hypothesis makes, importing an export gives back
the same deployment settings (deployment config and group settings or the ECS deployment
configuration, target-group health checks and attributes, alarms; for the ECS controller the
service's bounds, grace period and the container's stop timeout, the rolling update included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluegreen_sim import load_scenario
from bluegreen_sim.cli import main
from bluegreen_sim.interop.detect import recognise
from bluegreen_sim.interop.export import export
from bluegreen_sim.interop.importer import import_sources, validate
from bluegreen_sim.scenario import (
    CODEDEPLOY_CONFIGS,
    ECS_HOOK_STAGES,
    LB_ONLY_METRICS,
    METRICS,
    STATISTICS,
    TG_ONLY_METRICS,
    Scenario,
    ScenarioError,
    scenario_from_dict,
)

ROOT = Path(__file__).resolve().parent.parent
CODEDEPLOY = ROOT / "scenarios" / "05-canary-alarm-rollback.yaml"
ECS = ROOT / "scenarios" / "16-ecs-canary-circuit-breaker.yaml"


def reimport(text: str, name: str) -> Scenario:
    raw, report = import_sources([recognise(name, text)], lint=False)
    return validate(raw, report)


def deployment_settings(s: Scenario) -> dict[str, Any]:
    """What a deployment definition can say: the fields an export must carry."""
    dep, lb = s.deployment, s.load_balancer
    out: dict[str, Any] = {
        "controller": dep.controller,
        "health_check": lb.health_check.model_dump(exclude={"initial_checks", "probe_time"}),
        "lb": (lb.type, lb.deregistration_delay, lb.test_listener),
        "alarms": [_alarm(a) for a in s.alarms],
        "deployment_alarms": list(dep.alarms),
        # The ECS service and its task definition (CodeDeploy's included).
        "service": (
            s.service.tasks,
            s.service.minimum_healthy_percent,
            s.service.maximum_percent,
            s.service.health_check_grace_period,
        ),
        "stop_timeout": s.service.stop_timeout,
    }
    if lb.type == "application":
        out["alb"] = (lb.slow_start, lb.routing)
    if dep.controller == "codedeploy":
        out["config"] = dep.config if isinstance(dep.config, str) else dep.config.model_dump()
        out["group"] = (
            dep.termination_wait,
            sorted(dep.auto_rollback),
            dep.ready_wait.action_on_timeout,
        )
        if dep.ready_wait.action_on_timeout == "STOP_DEPLOYMENT":
            out["ready_wait"] = dep.ready_wait.wait
    else:
        out["ecs"] = (dep.strategy, dep.bake_time)
        if dep.strategy == "LINEAR":
            out["linear"] = dep.linear.model_dump()
        if dep.strategy == "CANARY":
            out["canary"] = dep.canary.model_dump()
        cb = dep.circuit_breaker
        out["circuit_breaker"] = (cb.enable, cb.rollback)
        if cb.enable:
            out["circuit_breaker_detail"] = (cb.reset_on_healthy_task, cb.threshold.model_dump())
        if dep.alarms:
            out["alarm_rollback"] = dep.alarm_rollback
        out["hooks"] = {
            stage: (h.kind, h.timeout, h.timeout_action if h.timeout is not None else None)
            for stage, h in dep.hooks.items()
        }
    return out


def _alarm(a: Any) -> dict[str, Any]:
    d = a.model_dump(exclude={"expression"})
    if a.expression is not None:
        d["ratio"] = a.ratio
    return d


# --------------------------------------------------------------------------------------------
# Hypothesis: deployment settings


minutes = st.integers(min_value=1, max_value=60).map(lambda m: m * 60)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=3, max_size=20)


@st.composite
def alarm_specs(draw, name: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "period": draw(st.sampled_from([60, 120, 300, 900])),
        "evaluation_periods": draw(st.integers(1, 5)),
        "threshold": draw(st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 3))),
        "comparison": draw(
            st.sampled_from(
                [
                    "GreaterThanThreshold",
                    "GreaterThanOrEqualToThreshold",
                    "LessThanThreshold",
                    "LessThanOrEqualToThreshold",
                ]
            )
        ),
        "treat_missing_data": draw(
            st.sampled_from(["missing", "notBreaching", "breaching", "ignore"])
        ),
    }
    m = draw(st.integers(1, base["evaluation_periods"]) | st.none())
    if m is not None:
        base["datapoints_to_alarm"] = m
    if draw(st.booleans()):
        base["expression"] = f"{draw(st.sampled_from(['100', '1', '1000']))} * errs / reqs"
        base["metrics"] = {
            "errs": {
                "metric": "HTTPCode_Target_5XX_Count",
                "target_group": "green",
                "statistic": "Sum",
            },
            "reqs": {"metric": "RequestCount", "target_group": "green", "statistic": "Sum"},
        }
        return base
    metric = draw(st.sampled_from(METRICS))
    base["metric"] = metric
    if metric in TG_ONLY_METRICS:
        base["target_group"] = draw(st.sampled_from(["blue", "green"]))
    elif metric not in LB_ONLY_METRICS:
        tg = draw(st.sampled_from(["blue", "green", None]))
        if tg is not None:
            base["target_group"] = tg
    if metric == "TargetResponseTime" and draw(st.booleans()):
        base["extended_statistic"] = draw(st.sampled_from(["p50", "p99", "p99.9"]))
    else:
        base["statistic"] = draw(st.sampled_from(STATISTICS))
    return base


@st.composite
def scenarios(draw, controller: str | None = None) -> Scenario:
    controller = controller or draw(st.sampled_from(["codedeploy", "ecs"]))
    interval = draw(st.integers(5, 300))
    routing = draw(
        st.sampled_from(["round_robin", "least_outstanding_requests", "weighted_random"])
    )
    lb: dict[str, Any] = {
        "routing": routing,
        "deregistration_delay": draw(st.integers(0, 3600)),
        # ALB: slow start works with round robin only
        "slow_start": 0 if routing != "round_robin" else draw(st.sampled_from([0, 30, 90, 900])),
        "test_listener": draw(st.booleans()),
        "health_check": {
            "enabled": draw(st.booleans()),
            "interval": interval,
            "timeout": draw(st.integers(2, min(120, interval - 1))),
            "healthy_threshold": draw(st.integers(2, 10)),
            "unhealthy_threshold": draw(st.integers(2, 10)),
        },
    }
    alarm_names = draw(st.lists(names, max_size=3, unique=True))
    alarms = [draw(alarm_specs(n)) for n in alarm_names]
    attached = draw(st.lists(st.sampled_from(alarm_names), unique=True)) if alarm_names else []
    dep: dict[str, Any] = {"controller": controller, "alarms": attached}
    if controller == "codedeploy":
        kind = draw(st.sampled_from(["named", "TimeBasedCanary", "TimeBasedLinear", "AllAtOnce"]))
        if kind == "named":
            dep["config"] = draw(st.sampled_from(sorted(CODEDEPLOY_CONFIGS)))
        elif kind == "AllAtOnce":
            dep["config"] = {"type": "AllAtOnce"}
        else:
            dep["config"] = {
                "type": kind,
                "percentage": draw(st.integers(1, 99)),
                "interval": draw(minutes),
            }
        dep["termination_wait"] = draw(st.integers(0, 2880)) * 60
        dep["auto_rollback"] = draw(
            st.lists(
                st.sampled_from(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]), unique=True
            )
        )
        if draw(st.booleans()):
            dep["ready_wait"] = {
                "action_on_timeout": "STOP_DEPLOYMENT",
                "wait": draw(st.integers(0, 7200)) * 60,
            }
    else:
        dep["strategy"] = draw(st.sampled_from(["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"]))
        if dep["strategy"] != "ROLLING" or draw(st.booleans()):
            dep["bake_time"] = draw(st.integers(0, 1440)) * 60
        # each strategy's own settings only: another strategy's are refused
        if dep["strategy"] == "LINEAR":
            dep["linear"] = {
                "step_percent": draw(st.integers(30, 1000)) / 10,
                "step_bake_time": draw(st.integers(0, 1440)) * 60,
            }
        if dep["strategy"] == "CANARY":
            dep["canary"] = {
                "canary_percent": draw(st.integers(1, 1000)) / 10,
                "canary_bake_time": draw(st.integers(0, 1440)) * 60,
            }
        dep["circuit_breaker"] = {
            "enable": draw(st.booleans()),
            "rollback": draw(st.booleans()),
            "reset_on_healthy_task": draw(st.booleans()),
            "threshold": {
                "type": draw(st.sampled_from(["COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT"])),
                "value": draw(st.integers(1, 200)),
            },
        }
        dep["alarm_rollback"] = draw(st.booleans())
        hooks = {}
        for stage in draw(st.lists(st.sampled_from(ECS_HOOK_STAGES), unique=True, max_size=3)):
            pause_ok = stage not in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
            hook: dict[str, Any] = {
                "kind": draw(st.sampled_from(["lambda", "pause"] if pause_ok else ["lambda"]))
            }
            if draw(st.booleans()):
                hook["timeout"] = draw(st.integers(1, 20160)) * 60
                hook["timeout_action"] = draw(st.sampled_from(["ROLLBACK", "CONTINUE"]))
            hooks[stage] = hook
        dep["hooks"] = hooks
    service: dict[str, Any] = {
        "tasks": draw(st.integers(1, 50)),
        "minimum_healthy_percent": draw(st.integers(0, 100)),
        "maximum_percent": draw(st.integers(100, 200)),
        "health_check_grace_period": draw(st.integers(0, 2**31 - 1)),
        "stop_timeout": draw(st.integers(2, 120)),
    }
    if dep.get("strategy") == "ROLLING":
        # A rolling update: one target group, no test listener, no hooks, and bounds that
        # let ECS start or stop a task (the schema's rule).
        dep["hooks"] = {}
        lb["test_listener"] = False
        for a in alarms:
            for ref in [a, *a.get("metrics", {}).values()]:
                if ref.get("target_group") == "green":
                    ref["target_group"] = "blue"
        n = service["tasks"]
        floor = -(-n * service["minimum_healthy_percent"] // 100)
        if n * service["maximum_percent"] // 100 <= n and floor >= n:
            service["maximum_percent"] = 200
    raw = {
        "name": draw(names),
        "service": service,
        "load_balancer": lb,
        "deployment": dep,
        "alarms": alarms,
    }
    return scenario_from_dict(raw)


ROUND_TRIP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(scenarios())
def test_import_of_exported_cloudformation_gives_back_the_settings(s):
    back = reimport(export(s, "cloudformation"), "exported.yaml")
    assert deployment_settings(back) == deployment_settings(s)


@ROUND_TRIP
@given(scenarios())
def test_import_of_exported_terraform_gives_back_the_settings(s):
    back = reimport(export(s, "terraform"), "exported.tf")
    want, got = deployment_settings(s), deployment_settings(back)
    if s.deployment.controller == "ecs":
        # The AWS provider has no hook timeouts, PAUSE hooks or circuit-breaker thresholds yet.
        want["hooks"] = {
            k: ("lambda", None, None) for k, h in s.deployment.hooks.items() if h.kind == "lambda"
        }
        want.pop("circuit_breaker_detail", None)
        got.pop("circuit_breaker_detail", None)
    assert got == want


@ROUND_TRIP
@given(scenarios())
def test_import_of_exported_cli_json_gives_back_the_deployment(s):
    back = reimport(export(s, "ecs-json"), "exported.json")
    want, got = deployment_settings(s), deployment_settings(back)
    # The CLI input holds the deployment only: no target groups, alarm definitions or task
    # definition (the stop timeout is the container's); create-deployment-group, no service.
    if s.deployment.controller == "codedeploy":
        want.pop("service")
        got.pop("service")
    for key in (
        "health_check",
        "lb",
        "alb",
        "alarms",
        "deployment_alarms",
        "alarm_rollback",
        "stop_timeout",
    ):
        want.pop(key, None)
        got.pop(key, None)
    if s.deployment.controller == "codedeploy" and not isinstance(s.deployment.config, str):
        want.pop("config")  # a custom config is created by its own command (printed by the CLI)
        got.pop("config")
    assert got == want


# --------------------------------------------------------------------------------------------
# What AWS's own tools say


ROLLING = ROOT / "scenarios" / "23-ecs-rolling-update.yaml"


@pytest.mark.parametrize("path", [CODEDEPLOY, ECS, ROLLING])
def test_exported_cloudformation_passes_cfn_lint(path):
    import cfnlint.api as api

    text = export(load_scenario(path), "cloudformation")
    matches = api.lint(text, config=api.ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def _lint(s: Scenario) -> list[tuple[str, str]]:
    import cfnlint.api as api

    text = export(s, "cloudformation")
    return [
        (m.rule.id, m.message) for m in api.lint(text, config=api.ManualArgs(regions=["us-east-1"]))
    ]


def test_exported_cloudformation_with_every_feature_passes_cfn_lint():
    s = load_scenario(
        ECS,
        overrides=[
            "deployment.strategy=LINEAR",
            "deployment.hooks.PRE_SCALE_UP.kind=lambda",
            "load_balancer.test_listener=true",
            "deployment.circuit_breaker.enable=false",
        ],
    )
    assert _lint(s) == []
    s = load_scenario(
        CODEDEPLOY,
        overrides=[
            "deployment.config={type: TimeBasedLinear, percentage: 20, interval: 3m}",
            "deployment.ready_wait.action_on_timeout=STOP_DEPLOYMENT",
            "deployment.ready_wait.wait=30m",
            "load_balancer.test_listener=false",
        ],
    )
    assert _lint(s) == []


def test_what_cfn_lint_does_not_know_yet_is_only_the_2025_hook_keys():
    from bluegreen_sim.interop.cfn import NEWER_THAN_LINT

    s = load_scenario(
        ECS,
        overrides=[
            "deployment.hooks.PRE_SCALE_UP.kind=pause",
            "deployment.hooks.POST_SCALE_UP.timeout=30m",
        ],
    )
    for rule, message in _lint(s):
        # PAUSE hooks need no Lambda, which the bundled schema still requires.
        newer = any(f"'{k}'" in message for k in NEWER_THAN_LINT + ("HookTargetArn", "RoleArn"))
        assert rule in ("E3002", "E3003") and newer, (rule, message)


def test_exported_terraform_parses_and_appspec_has_hook_skeletons():
    import hcl2

    s = load_scenario(CODEDEPLOY, overrides=["deployment.hooks.AfterAllowTestTraffic.kind=probe"])
    tf = hcl2.loads(export(s, "terraform"))
    assert {"resource", "variable"} <= set(tf)
    spec = yaml.safe_load(export(s, "appspec"))
    assert spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == (
        "<TASK_DEFINITION>"
    )
    assert spec["Hooks"] == [{"AfterAllowTestTraffic": "<LAMBDA_FOR_AFTERALLOWTESTTRAFFIC>"}]
    assert json.loads(export(s, "ecs-json"))["deploymentConfigName"]


def test_export_refuses_what_has_no_aws_form(capsys, tmp_path):
    path = tmp_path / "steps.yaml"
    path.write_text("deployment:\n  controller: steps\n  steps: [{weight: 100}]\n")
    assert main(["export", str(path), "--to", "cloudformation"]) == 2
    assert "no AWS definition" in capsys.readouterr().err
    assert main(["export", str(ECS), "--to", "appspec"]) == 2
    assert "controller codedeploy" in capsys.readouterr().err
    with pytest.raises(ScenarioError):
        export(load_scenario(ECS), "pulumi")


def test_export_cli_writes_the_file_and_names_the_custom_config_command(capsys, tmp_path):
    out = tmp_path / "group.json"
    s = tmp_path / "s.yaml"
    s.write_text(
        "deployment:\n  controller: codedeploy\n"
        "  config: {type: TimeBasedLinear, percentage: 20, interval: 2m}\n"
    )
    assert main(["export", str(s), "--to", "ecs-json", "--out", str(out)]) == 0
    assert "create-deployment-config" in capsys.readouterr().err
    assert json.loads(out.read_text())["deploymentConfigName"] == (
        "bluegreen-sim-Linear20PercentEvery2Minutes"
    )


def test_a_rolling_update_exports_one_target_group_and_the_task_lifecycle():
    s = load_scenario(
        ROLLING,
        overrides=[
            "service.stop_timeout=90s",
            "service.health_check_grace_period=45s",
            "service.minimum_healthy_percent=50",
            "service.maximum_percent=150",
        ],
    )
    cfn = yaml.safe_load(export(s, "cloudformation").split("\n", 2)[2])
    res = cfn["Resources"]
    assert "GreenTargetGroup" not in res
    svc = res["Service"]["Properties"]
    assert "AdvancedConfiguration" not in svc["LoadBalancers"][0]
    assert svc["HealthCheckGracePeriodSeconds"] == 45
    dc = svc["DeploymentConfiguration"]
    assert (dc["Strategy"], dc["MinimumHealthyPercent"], dc["MaximumPercent"]) == (
        "ROLLING",
        50,
        150,
    )
    container = res["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["StopTimeout"] == 90
    api = json.loads(export(s, "ecs-json"))
    assert api["healthCheckGracePeriodSeconds"] == 45
    assert api["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    # An alarm on green has no AWS form when there is one target group.
    green = load_scenario(ROLLING, overrides=["alarms.0.target_group=green"])
    with pytest.raises(ScenarioError, match="one target group"):
        export(green, "terraform")

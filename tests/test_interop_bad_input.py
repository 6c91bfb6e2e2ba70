"""``bluegreen-sim import`` on bad input: one line, exit status 2, no traceback, no file.

A file of another kind, a template with no deployment in it, an unknown ECS strategy, a YAML
alias bomb, a file over the size limit, unknown intrinsics, broken syntax: each must be refused
with one line that names the file and what is wrong, and ``--out`` must not be written.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bluegreen_sim.cli import main
from bluegreen_sim.interop import detect

BAD = Path(__file__).parent / "interop_files" / "bad"

CASES = {
    "k8s-deployment.yaml": "a Kubernetes manifest",
    "k8s-single.yaml": "a Kubernetes manifest",
    "package.json": "an npm package.json",
    "no-deployment.yaml": "no deployment found",
    "unknown-strategy.yaml": "Strategy 'RED_BLACK': expected one of ROLLING",
    "yaml-bomb.yaml": "alias bomb",
    "unknown-intrinsic.yaml": "unknown intrinsic function Fn::Frobnicate",
    "not-yaml.yaml": "invalid YAML",
    "already-scenario.yaml": "already a bluegreen-sim scenario",
}


def _refused(capsys, argv: list[str], expected: str, out: Path) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, f"exit {code}: {err!r}"
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and expected in err, err
    assert not out.exists()
    return err


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_file_is_refused_in_one_line(name, capsys, tmp_path):
    out = tmp_path / "scenario.yaml"
    err = _refused(capsys, ["import", str(BAD / name), "--out", str(out)], CASES[name], out)
    assert name in err


def test_the_corpus_and_the_cases_agree():
    assert sorted(p.name for p in BAD.iterdir() if p.name != "wrong-keys.yaml") == sorted(CASES)


def test_the_bomb_is_refused_without_expanding(capsys, tmp_path):
    start = time.perf_counter()
    _refused(
        capsys,
        ["import", str(BAD / "yaml-bomb.yaml")],
        "refused without expanding",
        tmp_path / "none",
    )
    assert time.perf_counter() - start < 5  # 9**9 lols would take minutes and gigabytes


def test_a_huge_file_is_refused_before_it_is_read(capsys, tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:  # sparse: no 20 MB written to disk
        fh.truncate(detect.MAX_BYTES + 1)
    _refused(capsys, ["import", str(big)], "the limit is 20 MB", tmp_path / "none")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01binary\x00", "a binary file"),
        (b"\xff\xfe\xfa not utf8", "not UTF-8"),
        (b'resource "aws_ecs_service" "x" {\n  desired_count = \n', "invalid Terraform"),
        (b"just some words", "not a CloudFormation template"),
        (b"[1, 2, 3]", "not a CloudFormation template"),
        (b'{"Resources": []}', "expected a mapping of resources"),
        (b"version: 0.0\nResources: []\nHooks: []\nExtra: 1\n", "one TargetService"),
        (
            b'{"deploymentGroupName": "g", "deploymentStyle": {"deploymentType": "IN_PLACE"}}',
            "IN_PLACE",
        ),
        (
            b"Resources:\n  S:\n    Type: AWS::ECS::Service\n    Properties:\n"
            b"      DeploymentController: {Type: EXTERNAL}\n",
            "EXTERNAL",
        ),
        (
            b"Resources:\n  G:\n    Type: AWS::CodeDeploy::DeploymentGroup\n    Properties:\n"
            b"      DeploymentConfigName: CodeDeployDefault.OneAtATime\n",
            "not an ECS deployment",
        ),
        (
            b"Resources:\n  G:\n    Type: AWS::CodeDeploy::DeploymentGroup\n"
            b"  T:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties:\n"
            b"      HealthyThresholdCount: 11\n",
            "healthy_threshold",
        ),
        (b"a: !!python/object/apply:os.system [echo hi]\n", "neither CloudFormation's"),
    ],
)
def test_other_bad_content(content, expected, capsys, tmp_path):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    _refused(
        capsys,
        ["import", str(path), "--out", str(tmp_path / "o.yaml")],
        expected,
        tmp_path / "o.yaml",
    )


def test_usage_errors(capsys, tmp_path):
    none = tmp_path / "none"
    _refused(capsys, ["import"], "give the files", none)
    _refused(capsys, ["import", str(tmp_path / "missing.yaml")], "file not found", none)
    _refused(capsys, ["import", str(tmp_path)], "is a folder", none)
    _refused(
        capsys, ["import", "--from-aws", "--cluster", "c"], "needs --cluster and --service", none
    )
    _refused(
        capsys,
        ["import", str(BAD / "no-deployment.yaml"), "--param", "novalue"],
        "expected NAME=VALUE",
        none,
    )


def test_a_missing_extra_is_named_in_one_line(capsys, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cfnlint", None)  # as if not installed
    _refused(
        capsys,
        ["import", str(BAD / "no-deployment.yaml")],
        "bluegreen-sim[interop]",
        tmp_path / "none",
    )
    monkeypatch.setitem(sys.modules, "boto3", None)
    _refused(
        capsys,
        ["import", "--from-aws", "--cluster", "c", "--service", "s"],
        "bluegreen-sim[aws]",
        tmp_path / "none",
    )


def test_a_good_import_writes_the_file_and_exits_0(capsys, tmp_path):
    out = tmp_path / "s.yaml"
    good = BAD.parent / "cdk-synth.template.json"
    assert main(["import", str(good), "--out", str(out)]) == 0
    assert out.exists() and "Mapped" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0


# --------------------------------------------------------------------------------------------
# Fuzz: whatever a template holds, the import gives a scenario or one ScenarioError


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bluegreen_sim.interop.cfn import TYPES  # noqa: E402
from bluegreen_sim.interop.detect import recognise  # noqa: E402
from bluegreen_sim.interop.importer import import_sources, validate  # noqa: E402
from bluegreen_sim.scenario import ScenarioError  # noqa: E402

PROPS = [
    "DeploymentConfigName",
    "BlueGreenDeploymentConfiguration",
    "DeploymentReadyOption",
    "TerminateBlueInstancesOnDeploymentSuccess",
    "TerminationWaitTimeInMinutes",
    "Action",
    "AutoRollbackConfiguration",
    "Enabled",
    "Events",
    "AlarmConfiguration",
    "Alarms",
    "Name",
    "LoadBalancerInfo",
    "TargetGroupPairInfoList",
    "TargetGroups",
    "TestTrafficRoute",
    "TrafficRoutingConfig",
    "Type",
    "TimeBasedCanary",
    "CanaryPercentage",
    "CanaryInterval",
    "DeploymentController",
    "DeploymentConfiguration",
    "Strategy",
    "BakeTimeInMinutes",
    "LinearConfiguration",
    "StepPercent",
    "CanaryConfiguration",
    "CanaryPercent",
    "DeploymentCircuitBreaker",
    "Enable",
    "Rollback",
    "LifecycleHooks",
    "LifecycleStages",
    "TimeoutConfiguration",
    "TimeoutInMinutes",
    "DesiredCount",
    "LoadBalancers",
    "TargetGroupArn",
    "AdvancedConfiguration",
    "Cpu",
    "Memory",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "TargetGroupAttributes",
    "Key",
    "Value",
    "Protocol",
    "MetricName",
    "Namespace",
    "Statistic",
    "Period",
    "Threshold",
    "EvaluationPeriods",
    "ComparisonOperator",
    "Dimensions",
    "Metrics",
    "Expression",
    "MetricStat",
    "Metric",
    "Stat",
    "Id",
    "ReturnData",
    "ForwardConfig",
    "DefaultActions",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5000)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        [
            "CODE_DEPLOY",
            "ECS",
            "LINEAR",
            "CANARY",
            "BLUE_GREEN",
            "TimeBasedCanary",
            "AllAtOnce",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            "100*a/b",
            "Sum",
            "30",
            "true",
            "CodeDeployDefault.ECSAllAtOnce",
            "TCP",
            "A",
            "B",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(PROPS), inner, max_size=4)
        | st.builds(lambda t: {"Ref": t}, st.sampled_from(["A", "B", "P", "X"]))
        | st.builds(lambda a: {"Fn::If": ["C", a, a]}, inner)
        | st.builds(lambda a: {"Fn::GetAtt": ["A", "Arn"]}, inner)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["A", "B", "X"]), st.sampled_from(sorted(TYPES)), min_size=1, max_size=3
    ),
    st.lists(st.dictionaries(st.sampled_from(PROPS), values, max_size=5), min_size=3, max_size=3),
)
def test_any_template_gives_a_scenario_or_one_scenario_error(types, props):
    tpl = {
        "Parameters": {"P": {"Type": "String", "Default": "x"}},
        "Conditions": {"C": {"Fn::Equals": [{"Ref": "P"}, "x"]}},
        "Resources": {
            lid: {"Type": t, "Properties": p}
            for (lid, t), p in zip(types.items(), props, strict=False)
        },
    }
    import json

    try:
        raw, report = import_sources([recognise("t.json", json.dumps(tpl))], lint=False)
        validate(raw, report)
    except ScenarioError as exc:
        assert "\n" not in str(exc)

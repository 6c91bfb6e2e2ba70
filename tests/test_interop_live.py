"""``import --from-aws``: a live account read with Describe/Get/List calls only.

moto stands in for AWS where it covers the API (ECS services and task definitions, CodeDeploy
deployment groups, ELB target groups and load balancers, CloudWatch alarms). Where it does not
(the ECS-native strategies in ``describe-services``, ``get-deployment-config``), botocore's
Stubber plays recorded responses in the API's own shapes, which it checks against the service
models.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from bluegreen_sim.cli import main  # noqa: E402
from bluegreen_sim.interop import live  # noqa: E402
from bluegreen_sim.interop.importer import import_sources, validate  # noqa: E402
from bluegreen_sim.scenario import ScenarioError, TrafficRouting  # noqa: E402

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _codedeploy_account() -> None:
    """An ECS service deployed by CodeDeploy, as a team would have set it up."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elb = boto3.client("elbv2", region_name=REGION)
    lb = elb.create_load_balancer(Name="web", Subnets=subnets, Type="application")
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    tgs = {}
    for color in ("blue", "green"):
        tg = elb.create_target_group(
            Name=f"web-{color}",
            Protocol="HTTP",
            Port=80,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=3,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]
        tgs[color] = tg["TargetGroupArn"]
        elb.modify_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"],
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "20"}],
        )
    elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs["blue"]}],
    )
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="prod")
    td = ecs.register_task_definition(
        family="web",
        cpu="512",
        memory="1024",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 1024}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition=td,
        desiredCount=4,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {"targetGroupArn": tgs["blue"], "containerName": "web", "containerPort": 80}
        ],
    )
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.put_metric_alarm(
        AlarmName="web-5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "TargetGroup", "Value": "targetgroup/web-green/0123456789abcdef"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cd = boto3.client("codedeploy", region_name=REGION)
    cd.create_application(applicationName="web", computePlatform="ECS")
    cd.create_deployment_group(
        applicationName="web",
        deploymentGroupName="web-dg",
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
        serviceRoleArn="arn:aws:iam::123456789012:role/cd",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 10,
            },
        },
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        },
        alarmConfiguration={"enabled": True, "alarms": [{"name": "web-5xx"}]},
        ecsServices=[{"serviceName": "web", "clusterName": "prod"}],
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
                    "prodTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:x"]},
                }
            ]
        },
    )


RECORDED_GROUP = {
    "deploymentGroupInfo": {
        "applicationName": "web",
        "deploymentGroupName": "web-dg",
        "deploymentConfigName": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "serviceRoleArn": "arn:aws:iam::123456789012:role/cd",
        "alarmConfiguration": {
            "enabled": True,
            "ignorePollAlarmFailure": False,
            "alarms": [{"name": "web-5xx"}],
        },
        "autoRollbackConfiguration": {
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        },
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "blueGreenDeploymentConfiguration": {
            "deploymentReadyOption": {
                "actionOnTimeout": "CONTINUE_DEPLOYMENT",
                "waitTimeInMinutes": 0,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 10,
            },
        },
        "loadBalancerInfo": {
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
                    "prodTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:x"]},
                }
            ]
        },
        "ecsServices": [{"serviceName": "web", "clusterName": "prod"}],
        "computePlatform": "ECS",
    }
}


def test_a_codedeploy_service_read_from_a_moto_account():
    """moto answers ECS, ELB and CloudWatch; its get-deployment-group drops the alarm
    configuration, so CodeDeploy's answers are recorded ones."""
    with moto.mock_aws():
        _codedeploy_account()
        sess = live.session(REGION)
        cd = sess.client("codedeploy")
        stub = Stubber(cd)
        stub.add_response("list_applications", {"applications": ["web"]})
        stub.add_response(
            "list_deployment_groups",
            {"applicationName": "web", "deploymentGroups": ["web-dg"]},
            {"applicationName": "web"},
        )
        stub.add_response(
            "get_deployment_group",
            RECORDED_GROUP,
            {"applicationName": "web", "deploymentGroupName": "web-dg"},
        )

        class _Session:
            def client(self, name):
                return cd if name == "codedeploy" else sess.client(name)

        with stub:
            sources = live.describe("prod", "web", sess=_Session())
    raw, report = import_sources(sources, service="web")
    s = validate(raw, report)
    dep = s.deployment
    assert dep.controller == "codedeploy"
    assert dep.config == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert dep.termination_wait == 600 and dep.alarms == ["web-5xx"]
    assert dep.auto_rollback == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    hc = s.load_balancer.health_check
    assert (hc.interval, hc.timeout, hc.healthy_threshold, hc.unhealthy_threshold) == (15, 5, 3, 2)
    assert s.load_balancer.deregistration_delay == 20
    assert (s.service.tasks, s.service.cpu, s.service.memory) == (4, 0.5, 1.0)
    assert s.alarms[0].target_group == "green"
    assert all(src.path.startswith("aws ") for src in sources)


def test_the_cli_reads_the_account_and_writes_a_valid_scenario(tmp_path, capsys):
    out = tmp_path / "live.yaml"
    with moto.mock_aws():
        _codedeploy_account()
        code = main(
            [
                "import",
                "--from-aws",
                "--cluster",
                "prod",
                "--service",
                "web",
                "--region",
                REGION,
                "--out",
                str(out),
            ]
        )
    assert code == 0, capsys.readouterr().err
    assert main(["validate", str(out)]) == 0
    assert "aws deploy get-deployment-group" in out.read_text()


def test_a_missing_service_is_one_line(capsys):
    with moto.mock_aws():
        boto3.client("ecs", region_name=REGION).create_cluster(clusterName="prod")
        code = main(
            ["import", "--from-aws", "--cluster", "prod", "--service", "nope", "--region", REGION]
        )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no such ECS service" in err


def test_only_read_operations_can_be_sent():
    with moto.mock_aws():
        sess = live.session(REGION)
        ecs = sess.client("ecs")
        ecs.list_clusters()  # a read goes through
        with pytest.raises(live.WriteRefused):
            ecs.create_cluster(clusterName="x")
        assert ecs.list_clusters()["clusterArns"] == []  # nothing was written


RECORDED_SERVICE = {
    "services": [
        {
            "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/api",
            "serviceName": "api",
            "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
            "status": "ACTIVE",
            "desiredCount": 6,
            "runningCount": 6,
            "launchType": "FARGATE",
            "deploymentController": {"type": "ECS"},
            "deploymentConfiguration": {
                "strategy": "CANARY",
                "bakeTimeInMinutes": 10,
                "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 3},
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "alarms": {"alarmNames": [], "enable": False, "rollback": False},
                "lifecycleHooks": [
                    {
                        "hookTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:check",
                        "roleArn": "arn:aws:iam::123456789012:role/hooks",
                        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                    }
                ],
            },
            "loadBalancers": [],
        }
    ],
    "failures": [],
}


def test_an_ecs_native_canary_from_recorded_responses():
    """moto does not keep the 2025 strategies: a recorded describe-services, checked by
    botocore's Stubber against the ECS service model."""
    sess = boto3.Session(region_name=REGION)
    ecs = sess.client("ecs")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_services", RECORDED_SERVICE, {"cluster": "prod", "services": ["api"]}
    )

    class _Session:
        def client(self, name):
            assert name == "ecs", name  # no task definition, target group or alarm to read
            return ecs

    with stub:
        sources = live.describe("prod", "api", sess=_Session())
    raw, report = import_sources(sources, service="api")
    s = validate(raw, report)
    dep = s.deployment
    assert dep.controller == "ecs" and dep.strategy == "CANARY"
    assert (dep.canary.canary_percent, dep.canary.canary_bake_time, dep.bake_time) == (
        5.0,
        180,
        600,
    )
    assert set(dep.hooks) == {"POST_TEST_TRAFFIC_SHIFT"} and s.service.tasks == 6


def test_a_custom_deployment_config_from_a_recorded_response():
    cd = boto3.Session(region_name=REGION).client("codedeploy")
    stub = Stubber(cd)
    stub.add_response(
        "get_deployment_config",
        {
            "deploymentConfigInfo": {
                "deploymentConfigName": "Linear20Every2",
                "computePlatform": "ECS",
                "trafficRoutingConfig": {
                    "type": "TimeBasedLinear",
                    "timeBasedLinear": {"linearPercentage": 20, "linearInterval": 2},
                },
            }
        },
        {"deploymentConfigName": "Linear20Every2"},
    )
    with stub:
        info = cd.get_deployment_config(deploymentConfigName="Linear20Every2")
    from bluegreen_sim.interop.detect import Source

    group = {
        "deploymentGroupInfo": {
            "deploymentGroupName": "g",
            "deploymentConfigName": "Linear20Every2",
        }
    }
    raw, report = import_sources(
        [
            Source("aws group", "deployment_group_api", group),
            Source("aws config", "deployment_config_api", info),
        ]
    )
    s = validate(raw, report)
    assert s.deployment.config == TrafficRouting(
        type="TimeBasedLinear", percentage=20, interval=120
    )


def test_no_credentials_is_one_line(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ScenarioError, match="no AWS credentials"):
        live.describe("prod", "web", region=REGION)
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_rolling_update_from_recorded_responses():
    """ECS's default deployment: no strategy; the service's bounds and grace period come from
    describe-services, the container's stop timeout from describe-task-definition. moto keeps
    neither deploymentConfiguration nor the grace period: recorded responses, checked by
    botocore's Stubber against the ECS service model."""
    td_arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:3"
    service = {
        "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/api",
        "serviceName": "api",
        "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
        "status": "ACTIVE",
        "desiredCount": 4,
        "launchType": "FARGATE",
        "taskDefinition": td_arn,
        "healthCheckGracePeriodSeconds": 40,
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {
            "minimumHealthyPercent": 50,
            "maximumPercent": 150,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        "loadBalancers": [],
    }
    task_definition = {
        "taskDefinitionArn": td_arn,
        "family": "api",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {"name": "log-router", "image": "fluent-bit", "stopTimeout": 5},
            {"name": "api", "image": "nginx", "stopTimeout": 75},
        ],
    }
    ecs = boto3.Session(region_name=REGION).client("ecs")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_services",
        {"services": [service], "failures": []},
        {"cluster": "prod", "services": ["api"]},
    )
    stub.add_response(
        "describe_task_definition", {"taskDefinition": task_definition}, {"taskDefinition": td_arn}
    )

    class _Session:
        def client(self, name):
            assert name == "ecs", name
            return ecs

    with stub:
        sources = live.describe("prod", "api", sess=_Session())
    raw, report = import_sources(sources, service="api")
    s = validate(raw, report)
    assert (s.deployment.controller, s.deployment.strategy) == ("ecs", "ROLLING")
    svc = s.service
    assert (svc.tasks, svc.minimum_healthy_percent, svc.maximum_percent) == (4, 50, 150)
    assert svc.health_check_grace_period == 40
    # No load balancer names a container: the first one's, said in the report.
    assert svc.stop_timeout == 5 and "several containers" in " ".join(
        str(x) for item in report.defaulted for x in item
    )

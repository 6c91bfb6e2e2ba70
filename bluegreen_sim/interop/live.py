"""Reading a live AWS account, read-only: the service, its deployment group, target groups,
load balancer and alarms, as the API returns them.

Only ``Describe*``, ``Get*``, ``List*`` and ``BatchGet*`` operations are called; a guard on the
boto3 session refuses any other before it is sent. Credentials come from boto3's standard chain
(environment, profile, instance role) and are never read or written here. The responses are
handed to the same readers as ``describe-*`` outputs saved to files, so ``import --from-aws``
and ``import`` of the saved outputs give the same scenario.
"""

from __future__ import annotations

from typing import Any

from ..scenario import CODEDEPLOY_CONFIGS, ScenarioError
from .detect import Source

READ_ONLY = ("Describe", "Get", "List", "BatchGet")


class WriteRefused(RuntimeError):
    """An operation that is not a read: never sent."""


def _guard(model: Any, **_: Any) -> None:
    if not model.name.startswith(READ_ONLY):
        raise WriteRefused(f"{model.name} is not a read-only operation; refused")


def session(region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 session whose clients can only read."""
    import boto3
    import botocore.exceptions

    try:
        sess = boto3.Session(region_name=region, profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise ScenarioError("--profile", profile, "no such AWS profile") from None
    sess.events.register("before-call.*.*", _guard)
    return sess


def describe(
    cluster: str,
    service: str,
    region: str | None = None,
    profile: str | None = None,
    sess: Any = None,
) -> list[Source]:
    """The service's definitions as API responses (see module docstring)."""
    import botocore.exceptions

    sess = sess or session(region, profile)
    where = f"AWS (cluster {cluster}, service {service})"
    try:
        return _describe(sess, cluster, service)
    except botocore.exceptions.NoCredentialsError:
        raise ScenarioError(where, None, "no AWS credentials (boto3's standard chain)") from None
    except botocore.exceptions.NoRegionError:
        raise ScenarioError(where, None, "no AWS region: give --region") from None
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        raise ScenarioError(
            where, exc.operation_name, f"{err.get('Code')}: {err.get('Message')}"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise ScenarioError(where, None, " ".join(str(exc).split())) from None


def _src(call: str, kind: str, data: Any) -> Source:
    return Source(f"aws {call}", kind, data)


def _describe(sess: Any, cluster: str, service: str) -> list[Source]:
    ecs = sess.client("ecs")
    out = ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in out.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise ScenarioError(f"AWS cluster {cluster}", service, "no such ECS service")
    svc = services[0]
    sources = [_src("ecs describe-services", "ecs_service_api", {"services": [svc]})]
    if svc.get("taskDefinition"):
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])
        sources.append(
            _src(
                "ecs describe-task-definition",
                "task_definition_api",
                {"taskDefinition": td["taskDefinition"]},
            )
        )
    tg_arns: list[str] = []
    tg_names: list[str] = []
    alarm_names: list[str] = []
    for lb in svc.get("loadBalancers", []):
        tg_arns.append(lb.get("targetGroupArn"))
        alt = (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
        if alt:
            tg_arns.append(alt)
    dep_alarms = (svc.get("deploymentConfiguration") or {}).get("alarms") or {}
    alarm_names += dep_alarms.get("alarmNames", [])
    if (svc.get("deploymentController") or {}).get("type") == "CODE_DEPLOY":
        group = _deployment_group(sess.client("codedeploy"), cluster, svc["serviceName"])
        if group is not None:
            sources.append(
                _src(
                    "deploy get-deployment-group",
                    "deployment_group_api",
                    {"deploymentGroupInfo": group},
                )
            )
            for pair in (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList", []):
                tg_names += [t["name"] for t in pair.get("targetGroups", []) if "name" in t]
            alarm_names += [
                a["name"] for a in (group.get("alarmConfiguration") or {}).get("alarms", [])
            ]
            config = group.get("deploymentConfigName")
            if config and config not in CODEDEPLOY_CONFIGS:
                info = sess.client("codedeploy").get_deployment_config(deploymentConfigName=config)
                sources.append(_src("deploy get-deployment-config", "deployment_config_api", info))
    tg_arns = [a for a in tg_arns if a]
    if tg_arns or tg_names:
        sources += _target_groups(sess.client("elbv2"), tg_arns, tg_names)
    if alarm_names:
        cw = sess.client("cloudwatch")
        alarms = cw.describe_alarms(AlarmNames=sorted(set(alarm_names)))
        sources.append(
            _src(
                "cloudwatch describe-alarms",
                "alarms_api",
                {"MetricAlarms": alarms.get("MetricAlarms", [])},
            )
        )
    return sources


def _deployment_group(cd: Any, cluster: str, service: str) -> dict[str, Any] | None:
    """The CodeDeploy deployment group whose ECS service is ``cluster``/``service``."""
    for app in _pages(cd, "list_applications", "applications"):
        for name in _pages(cd, "list_deployment_groups", "deploymentGroups", applicationName=app):
            info = cd.get_deployment_group(applicationName=app, deploymentGroupName=name)
            group = info.get("deploymentGroupInfo") or {}
            for s in group.get("ecsServices", []):
                if s.get("serviceName") == service and s.get("clusterName") in (
                    cluster,
                    cluster.rsplit("/", 1)[-1],
                ):
                    return group
    return None


def _pages(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    out, token = [], None
    while True:
        page = getattr(client, method)(**kwargs, **({"nextToken": token} if token else {}))
        out += page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return out


def _target_groups(elb: Any, arns: list[str], names: list[str]) -> list[Source]:
    if names:
        found = elb.describe_target_groups(Names=names)["TargetGroups"]
    elif arns:
        found = elb.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
    else:
        return []
    sources = [_src("elbv2 describe-target-groups", "elb_api", {"TargetGroups": found})]
    for tg in found:
        attrs = elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])
        sources.append(
            _src(
                "elbv2 describe-target-group-attributes",
                "elb_api",
                {"TargetGroupArn": tg["TargetGroupArn"], "Attributes": attrs.get("Attributes", [])},
            )
        )
    lb_arns = sorted({a for tg in found for a in tg.get("LoadBalancerArns", [])})
    if lb_arns:
        lbs = elb.describe_load_balancers(LoadBalancerArns=lb_arns[:1])["LoadBalancers"]
        for lb in lbs:
            lb["Attributes"] = elb.describe_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"]
            ).get("Attributes", [])
        sources.append(_src("elbv2 describe-load-balancers", "elb_api", {"LoadBalancers": lbs}))
    return sources

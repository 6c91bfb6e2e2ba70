"""CodeDeploy AppSpec files, AWS CLI inputs and ``describe-*`` outputs.

An AppSpec gives the lifecycle hooks (and a ``<TASK_DEFINITION>`` placeholder, filled at deploy
time); ``create-deployment-group --cli-input-json`` the group settings; ``create-deployment``
embeds the AppSpec as a string; ``create-service``/``update-service`` inputs and
``describe-services``, ``describe-target-groups``, ``describe-alarms``... outputs have the API's
own shapes, which :mod:`.readers` reads without case (the live-account reader uses the same).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..scenario import ScenarioError
from . import readers
from .model import Definitions, Resource
from .readers import N, join

PLACEHOLDER_HINT = "a placeholder that CodeDeploy fills at deploy time"


def read_appspec(source: str, data: dict, defs: Definitions, where: str | None = None) -> None:
    """An ECS AppSpec: its hooks and the service it deploys."""
    where = where or f"{source}:"
    p = N(data, where, data)
    version = p.get("version")
    if version is not None and str(version) not in ("0.0", "0"):
        defs.note("wrong", join(where, "version"), f"AppSpec version {version!r}; AWS knows 0.0")
    r = Resource("appspec", f"appspec:{where}", where)
    hooks: dict[str, Any] = {}
    raw_hooks = p.get("Hooks")
    if isinstance(raw_hooks, list):
        for item in raw_hooks:
            if isinstance(item, dict):
                hooks.update(item)
    elif isinstance(raw_hooks, dict):
        hooks.update(raw_hooks)
    if hooks:
        r.set("hooks", hooks, join(where, "Hooks"))
    resources = p.children("Resources")
    if not resources:
        raise ScenarioError(
            where.rstrip(":"), "Resources", "an ECS AppSpec needs one TargetService resource"
        )
    for item in resources[:1]:
        ((key, body),) = list(item.data.items())[:1] or [(None, {})]
        target = N(body, join(item.where, key))
        if str(target.get("Type")) != "AWS::ECS::Service":
            defs.note(
                "wrong",
                target.where,
                f"Type {target.get('Type')!r}: an ECS AppSpec targets AWS::ECS::Service",
            )
        props = target.child("Properties")
        td = props.get("TaskDefinition")
        if isinstance(td, str) and td.strip().startswith("<") and td.strip().endswith(">"):
            defs.note("ignored", join(props.where, "TaskDefinition"), f"{td} is {PLACEHOLDER_HINT}")
        elif td is not None:
            r.set("task_definition", td, join(props.where, "TaskDefinition"))
        for key in props.data.keys() - {"TaskDefinition"}:
            defs.note("ignored", join(props.where, key), "not about traffic shifting")
    for key in set(data) - {"version", "Resources", "Hooks"}:
        defs.note("wrong", join(where, key), "a key the AppSpec format does not know")
    defs.add(r)


def read_api(source: str, kind: str, data: Any, defs: Definitions) -> None:
    """An AWS CLI input or ``describe-*`` output of ``kind`` (see :func:`.detect.classify`)."""
    if kind == "deployment_group_api":
        for item, where in _items(data, source, ("deploymentGroupInfo", "deploymentGroupsInfo")):
            _add(defs, "deployment_group", item, where)
    elif kind == "deployment_config_api":
        for item, where in _items(data, source, ("deploymentConfigInfo",)):
            _add(defs, "deployment_config", item, where)
    elif kind == "deployment_api":
        _deployment(source, data, defs)
    elif kind == "ecs_service_api":
        for item, where in _items(data, source, ("services", "service")):
            _add(defs, "service", item, where)
    elif kind == "task_definition_api":
        for item, where in _items(data, source, ("taskDefinition",)):
            _add(defs, "task_definition", item, where)
    elif kind == "alarms_api":
        for item, where in _items(data, source, ("MetricAlarms",)):
            _add(defs, "alarm", item, where)
    elif kind == "elb_api":
        for key, res_kind in (
            ("TargetGroups", "target_group"),
            ("Listeners", "listener"),
            ("Rules", "listener_rule"),
            ("LoadBalancers", "load_balancer"),
        ):
            for item, where in _items(data, source, (key,)) if key in data else []:
                _add(defs, res_kind, item, where)
        if "Attributes" in data and "TargetGroupArn" in data:
            tg = defs.find("target_group", data["TargetGroupArn"])
            if tg is not None:
                readers.target_group(tg, N(data, f"{source}:", data), defs)


def _items(data: Any, source: str, wrappers: tuple[str, ...]) -> list[tuple[dict, str]]:
    for key in wrappers:
        if isinstance(data, dict) and key in data:
            inner = data[key]
            if isinstance(inner, list):
                return [
                    (x, f"{source}: {key}[{i}]") for i, x in enumerate(inner) if isinstance(x, dict)
                ]
            if isinstance(inner, dict):
                return [(inner, f"{source}: {key}")]
    return [(data, f"{source}:")] if isinstance(data, dict) else []


def _add(defs: Definitions, kind: str, item: dict, where: str) -> Resource:
    name = next(
        (
            item[k]
            for k in (
                "deploymentGroupName",
                "deploymentConfigName",
                "serviceName",
                "family",
                "AlarmName",
                "TargetGroupName",
                "ListenerArn",
                "RuleArn",
                "LoadBalancerName",
            )
            if isinstance(item.get(k), str)
        ),
        f"{kind}:{where}",
    )
    r = Resource(kind, name, where)
    readers.READERS[kind](r, N(item, where, item), defs)
    return defs.add(r)


def _deployment(source: str, data: dict, defs: Definitions) -> None:
    """``create-deployment`` input: the AppSpec is a string inside the revision."""
    rev = N(data, f"{source}:", data).child("revision")
    content = None
    for block in ("appSpecContent", "string"):
        b = rev.child(block)
        if b.get("content") is not None:
            content, where = b.get("content"), f"{b.where}.content"
    if content is None:
        kind = rev.get("revisionType")
        defs.note(
            "ignored",
            rev.where,
            f"revision of type {kind}: the AppSpec is stored "
            "elsewhere (S3/GitHub); pass the appspec file itself",
        )
    else:
        try:
            spec = (
                json.loads(content) if content.lstrip().startswith("{") else yaml.safe_load(content)
            )
        except (ValueError, yaml.YAMLError) as exc:
            msg = " ".join(str(exc).split())[:120]
            raise ScenarioError(
                source, where, f"the embedded AppSpec is not valid: {msg}"
            ) from None
        if not isinstance(spec, dict):
            raise ScenarioError(source, where, "the embedded AppSpec is not a mapping")
        read_appspec(source, spec, defs, where)
    p = N(data, f"{source}:", data)
    if p.get("deploymentConfigName") is not None:
        r = Resource("deployment_group", p.get("deploymentGroupName") or "deployment", source)
        p.put(r, "deployment_config_name", "deploymentConfigName")
        p.child("autoRollbackConfiguration").put(r, "auto_rollback_enabled", "enabled")
        p.child("autoRollbackConfiguration").put(r, "auto_rollback_events", "events")
        existing = defs.find("deployment_group", r.id)
        if existing is not None:  # the deployment overrides its group's config
            existing.fields.update(r.fields)
        else:
            defs.add(r)

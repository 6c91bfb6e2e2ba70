"""Reading a user's file safely and telling what it is, by its content (never its name).

Files are data: YAML goes through cfn-lint's decoder (a safe loader that also knows
CloudFormation's short-form tags), Terraform through python-hcl2, JSON through ``json``. A file
over :data:`MAX_BYTES`, or a YAML file whose aliases would expand past :data:`MAX_YAML_NODES`
(a "billion laughs" bomb), is refused before it is built.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..scenario import ScenarioError

MAX_BYTES = 20 * 1024 * 1024
MAX_YAML_NODES = 2_000_000

_HCL_BLOCK = re.compile(
    r'^\s*(resource|module|variable|locals|provider|terraform|data|output)\s*("|\{)', re.M
)


_SCENARIO_KEYS = {
    "name",
    "description",
    "duration",
    "seed",
    "load",
    "service",
    "blue",
    "green",
    "faults",
    "load_balancer",
    "deployment",
    "alarms",
    "pricing",
    "cloudwatch",
    "engine",
}


@dataclass
class Source:
    """A file read and recognised: ``kind`` names the reader that takes it."""

    path: str
    kind: str
    data: Any
    text: str | None = None


def read_source(path: str | Path) -> Source:
    """Read ``path`` and recognise its kind; :class:`ScenarioError` in one line otherwise."""
    name = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ScenarioError(name, None, "file not found") from None
    except OSError as exc:
        raise ScenarioError(name, None, f"cannot read the file ({exc.strerror})") from None
    if p.is_dir():
        raise ScenarioError(name, None, "is a folder; pass the files (e.g. folder/*.tf)")
    if size > MAX_BYTES:
        raise ScenarioError(
            name, None, f"file of {size / 1e6:.1f} MB refused: the limit is {MAX_BYTES // 2**20} MB"
        )
    raw = p.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ScenarioError(name, None, "a binary file, not a deployment definition")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError(name, None, "not UTF-8 text") from None
    return recognise(name, text)


def recognise(name: str, text: str) -> Source:
    """The kind and parsed content of ``text`` (the contents of file ``name``)."""
    stripped = text.lstrip()
    if not stripped:
        raise ScenarioError(name, None, "the file is empty")
    if stripped[0] in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(name, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
        if isinstance(data, dict) and _is_cfn(data):
            data = _decode_yaml(name, text)  # again, through cfn-lint: values carry lines
        return Source(name, classify(name, data), data, text)
    if _HCL_BLOCK.search(text):
        return Source(name, "terraform", _parse_hcl(name, text))
    _check_bomb(name, text)
    try:
        data = _decode_yaml(name, text)
    except ScenarioError:
        if re.match(r"^\s*[A-Za-z_][\w-]*\s*=", text, re.M) and ":" not in text.split("\n")[0]:
            data = _parse_hcl(name, text)
            return Source(name, "tfvars", data)
        raise
    if isinstance(data, str) and "=" in data:
        return Source(name, "tfvars", _parse_hcl(name, text))
    return Source(name, classify(name, data), data, text)


def _decode_yaml(name: str, text: str) -> Any:
    try:
        from cfnlint.decode import decode_str
    except ImportError:
        raise ScenarioError(name, None, _missing_extra("cfn-lint")) from None

    data, matches = decode_str(text)
    if matches:
        first = matches[0]
        msg = " ".join(str(first.message).split())
        if "another document" in msg:
            return _multi_document(name, text)
        msg = msg.replace("Template could not be parsed: ", "")
        if "could not determine a constructor" in msg:
            msg = (
                "a YAML tag that is neither CloudFormation's nor plain data: "
                + msg.split("tag '")[-1].split("'")[0]
            )
        line = getattr(first, "linenumber", None)
        raise ScenarioError(name, f"line {line}" if line else None, f"invalid YAML: {msg}")
    return data


def _multi_document(name: str, text: str) -> Any:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        docs = []
    if any(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
        raise ScenarioError(
            name, None, "a Kubernetes manifest, not an AWS deployment definition (ECS/CodeDeploy)"
        )
    raise ScenarioError(
        name, None, "several YAML documents in one file; expected one template or AppSpec"
    )


def _check_bomb(name: str, text: str) -> None:
    """Refuse YAML whose aliases expand to more than MAX_YAML_NODES nodes, before building."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.ScalarEvent):
                stack[-1][1] += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                stack[-1][1] += sizes.get(event.anchor, 1)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                stack.append([event.anchor, 1])
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                anchor, n = stack.pop()
                if anchor:
                    sizes[anchor] = n
                stack[-1][1] += n
            if stack[0][1] > MAX_YAML_NODES or any(n > MAX_YAML_NODES for _, n in stack[-1:]):
                raise ScenarioError(
                    name,
                    None,
                    f"YAML aliases expand to more than {MAX_YAML_NODES:,} nodes "
                    "(an alias bomb?); refused without expanding",
                )
    except yaml.YAMLError:
        return  # the decoder will say what is wrong, with a line


def _parse_hcl(name: str, text: str) -> dict[str, Any]:
    try:
        import hcl2
    except ImportError:
        raise ScenarioError(name, None, _missing_extra("python-hcl2")) from None
    try:
        return hcl2.loads(text, serialization_options=hcl2.SerializationOptions(with_meta=True))
    except Exception as exc:  # lark raises several types; all mean "not valid HCL"
        first = " ".join(str(exc).split())[:160]
        raise ScenarioError(name, None, f"invalid Terraform (HCL): {first}") from None


def _missing_extra(package: str) -> str:
    return f"reading this file needs {package}: pip install 'bluegreen-sim[interop]'"


def _is_cfn(data: dict[str, Any]) -> bool:
    resources = data.get("Resources")
    if "AWSTemplateFormatVersion" in data or "Transform" in data:
        return True
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and isinstance(r.get("Type"), str) for r in resources.values()
    )


def classify(name: str, data: Any) -> str:
    """The kind of parsed ``data``, or a one-line refusal saying what it seems to be."""
    if isinstance(data, list):
        if data and all(isinstance(d, dict) and "ParameterKey" in d for d in data):
            return "cfn_parameters"
        raise ScenarioError(name, None, _not_ours("a list"))
    if not isinstance(data, dict):
        raise ScenarioError(name, None, _not_ours("a single value"))
    keys = set(data)
    if _is_cfn(data):
        return "cloudformation"
    if "Hooks" in data and isinstance(data["Hooks"], dict):
        return "cloudformation"
    resources = data.get("Resources") if "Resources" in data else data.get("resources")
    if isinstance(resources, list) and any(
        isinstance(r, dict) and ("TargetService" in r or "targetService" in r) for r in resources
    ):
        return "appspec"
    if "version" in keys and ("Resources" in keys or "Hooks" in keys):
        return "appspec"
    # CodePipeline's template configuration file: Parameters, Tags, StackPolicy
    if (
        "Parameters" in keys
        and keys <= {"Parameters", "Tags", "StackPolicy"}
        and isinstance(data["Parameters"], dict)
    ):
        return "cfn_parameters"
    if keys & {"deployment", "load_balancer", "faults", "load"} and keys <= _SCENARIO_KEYS:
        raise ScenarioError(
            name, None, "already a bluegreen-sim scenario; run it with 'bluegreen-sim run'"
        )
    if keys & {"deploymentGroupInfo", "deploymentGroupsInfo"} or (
        "deploymentGroupName" in keys and "revision" not in keys
    ):
        return "deployment_group_api"
    if "revision" in keys and keys & {"applicationName", "deploymentGroupName"}:
        return "deployment_api"
    if "deploymentConfigInfo" in keys or "trafficRoutingConfig" in keys:
        return "deployment_config_api"
    if keys & {"services", "service"} and isinstance(
        data.get("services", data.get("service")), (list, dict)
    ):
        return "ecs_service_api"
    if "serviceName" in keys or ("cluster" in keys and "deploymentConfiguration" in keys):
        return "ecs_service_api"
    if "taskDefinition" in keys and isinstance(data["taskDefinition"], dict):
        return "task_definition_api"
    if "containerDefinitions" in keys:
        return "task_definition_api"
    if keys & {"MetricAlarms", "AlarmName"}:
        return "alarms_api"
    if keys & {"TargetGroups", "Listeners", "Rules", "LoadBalancers", "Attributes"}:
        return "elb_api"
    if "apiVersion" in keys and "kind" in keys:
        raise ScenarioError(
            name, None, "a Kubernetes manifest, not an AWS deployment definition (ECS/CodeDeploy)"
        )
    if {"name", "version"} <= keys and keys & {"dependencies", "scripts", "devDependencies"}:
        raise ScenarioError(name, None, "an npm package.json, not an AWS deployment definition")
    if "Resources" in keys:
        raise ScenarioError(
            name, "Resources", "expected a mapping of resources, each with a 'Type'"
        )
    if "deployment" in keys or "load_balancer" in keys:
        raise ScenarioError(
            name, None, "already a bluegreen-sim scenario; run it with 'bluegreen-sim run'"
        )
    raise ScenarioError(name, None, _not_ours(f"a mapping with keys {', '.join(sorted(keys)[:5])}"))


def _not_ours(what: str) -> str:
    return (
        f"{what}, not a CloudFormation template, Terraform file, AppSpec, parameters file or "
        "AWS CLI input (create-deployment-group, create-deployment, create-service, ...)"
    )

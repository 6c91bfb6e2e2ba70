"""CloudFormation templates (YAML with short-form tags, JSON with ``Fn::``, CDK synth output).

The template is decoded by cfn-lint (which turns ``!Ref`` and friends into their long forms and
keeps line numbers), then the intrinsics that matter are evaluated: ``Ref`` to parameters,
``Fn::Sub``/``Join``/``Select``/``Split``/``If``/``FindInMap``, conditions. A ``Ref`` or
``GetAtt`` of a resource becomes a :class:`~.model.Ref` so the mapping can link a deployment
group to its target groups; what cannot be known from the file (``ImportValue``, a parameter
without value, an unknown intrinsic) becomes an :class:`~.model.Unresolved` that says why.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..scenario import ScenarioError
from .model import Definitions, Ref, Resource, Unresolved

NOVALUE = object()  # AWS::NoValue: the property is removed
_SUB_VAR = re.compile(r"\$\{(?!!)([^}]+)\}")
PSEUDO = (
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
)
# cfn-lint findings that mean "AWS does not know this key or value" in a resource we map.
LINT_RULES = {
    "E3002": "a key AWS does not know",
    "E3034": "out of AWS's range",
    "E3030": "not a value AWS allows",
    "E3012": "wrong type",
    "E3003": "missing",
    "E3035": "not allowed",
}

KNOWN = {
    "Ref",
    "Fn::GetAtt",
    "Fn::If",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::ImportValue",
    "Fn::GetAZs",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::GetStackOutput",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Fn::RefAll",
    "Fn::ForEach::Items",
}
# CloudFormation type -> our kind
TYPES = {
    "AWS::CodeDeploy::DeploymentGroup": "deployment_group",
    "AWS::CodeDeploy::DeploymentConfig": "deployment_config",
    "AWS::ECS::Service": "service",
    "AWS::ECS::TaskDefinition": "task_definition",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "target_group",
    "AWS::ElasticLoadBalancingV2::Listener": "listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "listener_rule",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load_balancer",
    "AWS::CloudWatch::Alarm": "alarm",
}


def parameter_values(source: str, data: Any) -> dict[str, Any]:
    """Values from a parameters file: ``[{ParameterKey, ParameterValue}]`` (the CLI's shape)
    or ``{"Parameters": {name: value}}`` (CodePipeline's template configuration)."""
    if isinstance(data, list):
        out = {}
        for i, item in enumerate(data):
            if not isinstance(item, dict) or "ParameterKey" not in item:
                raise ScenarioError(source, f"[{i}]", "expected {ParameterKey, ParameterValue}")
            if "ParameterValue" in item:
                out[str(item["ParameterKey"])] = item["ParameterValue"]
        return out
    return {str(k): v for k, v in data["Parameters"].items()}


class _Template:
    """One template's intrinsic evaluator."""

    def __init__(self, source: str, tpl: dict, params: dict[str, Any], defs: Definitions):
        self.source, self.tpl, self.defs = source, tpl, defs
        self.resources = tpl.get("Resources") or {}
        self.mappings = tpl.get("Mappings") or {}
        self.condition_defs = tpl.get("Conditions") or {}
        self.conditions: dict[str, bool] = {}
        self.params = self._parameters(params)

    # -- parameters and conditions ------------------------------------------------------------

    def _parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        declared = self.tpl.get("Parameters") or {}
        if not isinstance(declared, dict):
            raise ScenarioError(self.source, "Parameters", "expected a mapping of parameters")
        for name, spec in declared.items():
            spec = spec if isinstance(spec, dict) else {}
            where = f"{self.source}: Parameters.{name}"
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                # Said in the report only where a mapped value uses it.
                out[name] = Unresolved(f"parameter {name} has no Default and no value was given")
                continue
            ptype = str(spec.get("Type", "String"))
            if ptype == "Number":
                try:
                    value = float(value)
                    value = int(value) if value.is_integer() else value
                except (TypeError, ValueError):
                    self.defs.note("wrong", where, f"Type Number but value {value!r}")
            elif ptype.startswith(("CommaDelimitedList", "List<")) and isinstance(value, str):
                value = [v.strip() for v in value.split(",")]
            allowed = spec.get("AllowedValues")
            if (
                isinstance(allowed, list)
                and value not in allowed
                and str(value) not in map(str, allowed)
            ):
                self.defs.note("wrong", where, f"value {value!r} is not in AllowedValues {allowed}")
            out[name] = value
        for name in given:
            if name not in declared:
                self.defs.note(
                    "wrong",
                    f"{self.source}: parameter {name}",
                    "given a value but the template declares no such parameter",
                )
        return out

    def condition(self, name: str) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        if name not in self.condition_defs:
            self.defs.note("wrong", f"{self.source}: Condition {name}", "is not defined")
            self.conditions[name] = False
            return False
        self.conditions[name] = False  # a cycle reads as false
        value = self._cond_value(self.condition_defs[name])
        if isinstance(value, Unresolved):
            self.defs.note(
                "defaulted", f"{self.source}: Conditions.{name}", f"taken as false: {value.reason}"
            )
            value = False
        self.conditions[name] = bool(value)
        return bool(value)

    def _cond_value(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                a, b = (self.value(x) for x in arg)
                if isinstance(a, Unresolved | Ref) or isinstance(b, Unresolved | Ref):
                    return a if isinstance(a, Unresolved) else Unresolved(f"compares {a}, {b}")
                return str(a) == str(b)
            if key in ("Fn::And", "Fn::Or") and isinstance(arg, list):
                vals = [self._cond_value(x) for x in arg]
                if any(isinstance(v, Unresolved) for v in vals):
                    return next(v for v in vals if isinstance(v, Unresolved))
                return all(vals) if key == "Fn::And" else any(vals)
            if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                v = self._cond_value(arg[0])
                return v if isinstance(v, Unresolved) else not v
        v = self.value(node)
        return v if isinstance(v, Unresolved) else str(v).lower() == "true"

    # -- values -------------------------------------------------------------------------------

    def value(self, node: Any) -> Any:
        """``node`` with its intrinsics evaluated (NOVALUE entries removed)."""
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                    if key not in KNOWN and not key.startswith("Fn::ForEach"):
                        line = line_of(node)
                        raise ScenarioError(
                            self.source,
                            f"line {line}" if line else None,
                            f"unknown intrinsic function {key} (CloudFormation knows "
                            "Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Join, ...)",
                        )
                    return self._intrinsic(key, arg)
                if key == "Condition" and isinstance(arg, str) and arg in self.condition_defs:
                    return self.condition(arg)
            out = {}
            for k, v in node.items():
                r = self.value(v)
                if r is not NOVALUE:
                    out[str(k)] = r
            return out
        if isinstance(node, list):
            return [r for r in (self.value(v) for v in node) if r is not NOVALUE]
        if isinstance(node, str):
            return str(node)
        return node

    def _intrinsic(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            return self._ref(str(arg))
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and parts and str(parts[0]) in self.resources:
                return Ref(str(parts[0]))
            return Unresolved(f"GetAtt of {parts!r}, not a resource of this template")
        if key == "Fn::If":
            if not (isinstance(arg, list) and len(arg) == 3):
                return Unresolved("Fn::If needs [condition, if-true, if-false]")
            return self.value(arg[1] if self.condition(str(arg[0])) else arg[2])
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2):
                return Unresolved("Fn::Join needs [delimiter, list]")
            items = self.value(arg[1])
            if not isinstance(items, list) or not all(
                isinstance(i, str | int | float) for i in items
            ):
                return Unresolved("Fn::Join of values not known from the files")
            return str(arg[0]).join(str(i) for i in items)
        if key == "Fn::Select":
            if not (isinstance(arg, list) and len(arg) == 2):
                return Unresolved("Fn::Select needs [index, list]")
            idx, items = self.value(arg[0]), self.value(arg[1])
            try:
                return items[int(idx)]
            except (TypeError, ValueError, IndexError, KeyError):
                return Unresolved("Fn::Select of values not known from the files")
        if key == "Fn::Split":
            if isinstance(arg, list) and len(arg) == 2:
                text = self.value(arg[1])
                if isinstance(text, str):
                    return text.split(str(arg[0]))
            return Unresolved("Fn::Split of a value not known from the files")
        if key == "Fn::FindInMap":
            return self._find_in_map(arg)
        if key == "Fn::ImportValue":
            return Unresolved("Fn::ImportValue: exported by another stack")
        if key in (
            "Fn::GetAZs",
            "Fn::Base64",
            "Fn::Cidr",
            "Fn::Transform",
            "Fn::Length",
            "Fn::ToJsonString",
            "Fn::GetStackOutput",
        ):
            return Unresolved(f"{key} is not evaluated offline")
        return Unresolved(f"{key} is not evaluated offline")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return Ref(name)
        if name in PSEUDO:
            return Unresolved(f"pseudo parameter {name} (known only at deploy time)")
        return Unresolved(f"Ref to {name}, which the template does not declare")

    def _sub(self, arg: Any) -> Any:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, local = str(arg[0]), {k: self.value(v) for k, v in arg[1].items()}
        elif isinstance(arg, str):
            text, local = arg, {}
        else:
            return Unresolved("Fn::Sub needs a string or [string, variables]")
        names = _SUB_VAR.findall(text)
        if len(names) == 1 and text == "${" + names[0] + "}":
            return local.get(names[0], self._ref_or_att(names[0]))
        out = text
        for n in names:
            v = local[n] if n in local else self._ref_or_att(n)
            if isinstance(v, Unresolved | Ref) or v is NOVALUE or isinstance(v, dict | list):
                return Unresolved(f"Fn::Sub uses ${{{n}}}, not known from the files")
            out = out.replace("${" + n + "}", str(v))
        return out.replace("${!", "${")

    def _ref_or_att(self, name: str) -> Any:
        if "." in name and name.split(".")[0] in self.resources:
            return Ref(name.split(".")[0])
        return self._ref(name)

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) < 3:
            return Unresolved("Fn::FindInMap needs [map, key, key]")
        m, k1, k2 = (self.value(x) for x in arg[:3])
        try:
            return self.value(self.mappings[str(m)][str(k1)][str(k2)])
        except (KeyError, TypeError):
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.value(arg[3]["DefaultValue"])
            return Unresolved(f"Fn::FindInMap [{m}, {k1}, {k2}] not in Mappings")


def line_of(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return None if mark is None else mark.line + 1


def read_template(
    source: str,
    tpl: dict[str, Any],
    params: dict[str, Any],
    defs: Definitions,
    text: str | None = None,
) -> None:
    """Add the deployment-relevant resources of template ``tpl`` to ``defs``."""
    from . import readers

    t = _Template(source, tpl, params, defs)
    if not isinstance(t.resources, dict):
        raise ScenarioError(source, "Resources", "expected a mapping of resources")
    for lid, res in t.resources.items():
        if not isinstance(res, dict):
            defs.note("wrong", f"{source}: Resources.{lid}", "a resource must be a mapping")
            continue
        rtype = str(res.get("Type", ""))
        where = f"{source}: Resources.{lid}"
        cond = res.get("Condition")
        if isinstance(cond, str) and not t.condition(cond):
            if rtype in TYPES:
                defs.note("ignored", where, f"{rtype} not created: condition {cond} is false")
            continue
        kind = TYPES.get(rtype)
        if kind is None:
            if rtype.startswith(("Custom::", "AWS::CloudFormation::CustomResource")):
                defs.note(
                    "ignored",
                    where,
                    f"custom resource {rtype}: what it does is not in the template",
                )
            continue
        props = res.get("Properties") or {}
        if not isinstance(props, dict):
            defs.note("wrong", where, "Properties must be a mapping")
            props = {}
        r = Resource(kind, lid, f"{where} (line {line_of(res)})")
        r.keys.add(lid)
        values = t.value(props)
        readers.read(r, values, props, f"{where}.Properties", defs)
        defs.add(r)
    hooks = tpl.get("Hooks") or {}
    if isinstance(hooks, dict):
        for hid, hook in hooks.items():
            if isinstance(hook, dict) and hook.get("Type") == "AWS::CodeDeploy::BlueGreen":
                where = f"{source}: Hooks.{hid}"
                r = Resource("bluegreen_hook", hid, f"{where} (line {line_of(hook)})")
                props = hook.get("Properties") or {}
                readers.read_bluegreen_hook(r, t.value(props), props, where, defs)
                defs.add(r)
        transform = tpl.get("Transform")
        names = transform if isinstance(transform, list) else [transform]
        if hooks and "AWS::CodeDeployBlueGreen" not in names:
            defs.note(
                "wrong",
                f"{source}: Hooks",
                "an AWS::CodeDeploy::BlueGreen hook needs 'Transform: AWS::CodeDeployBlueGreen'",
            )
    if text is not None:
        _lint(source, tpl, text, defs)


# Properties AWS added in 2025 (AWS_FACTS §6.3) that cfn-lint's bundled schemas do not know yet:
# not a mistake of the user's.
NEWER_THAN_LINT = (
    "TargetType",
    "TimeoutConfiguration",
    "ResetOnHealthyTask",
    "ThresholdConfiguration",
)


def _lint(source: str, tpl: dict[str, Any], text: str, defs: Definitions) -> None:
    """cfn-lint's schema checks, kept to the resources we map: a key AWS does not know, a
    value out of range, a missing required property. Only those resources (and the ones they
    refer to) are linted: a ``cdk synth`` template holds hundreds of others."""
    try:
        import cfnlint.api as api
    except ImportError:
        return
    resources = tpl.get("Resources") or {}
    mapped = {lid for lid, r in resources.items() if isinstance(r, dict) and r.get("Type") in TYPES}
    keep = mapped | {x for lid in mapped for x in _referenced(resources[lid]) if x in resources}
    sub = {
        k: tpl[k]
        for k in ("AWSTemplateFormatVersion", "Transform", "Parameters", "Conditions", "Mappings")
        if k in tpl
    }
    sub["Resources"] = {lid: resources[lid] for lid in resources if lid in keep}
    try:
        matches = api.lint(
            json.dumps(sub, default=str), config=api.ManualArgs(regions=["us-east-1"])
        )
    except Exception:  # a linter crash must not stop an import
        return
    for m in matches:
        path = list(getattr(m, "path", []) or [])
        if m.rule.id not in LINT_RULES or len(path) < 3 or path[0] != "Resources":
            continue
        if path[1] not in mapped or "Metadata" in path[:3]:
            continue
        if m.rule.id == "E3002" and any(f"'{k}'" in m.message for k in NEWER_THAN_LINT):
            continue
        line = _line_at(tpl, path)
        where = f"{source}: " + ".".join(str(p) for p in path) + (f" (line {line})" if line else "")
        defs.note("wrong", where, f"{LINT_RULES[m.rule.id]}: {' '.join(m.message.split())}")


def _referenced(node: Any) -> set[str]:
    """Logical ids that ``node`` refers to (Ref, GetAtt, Sub)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                out.add(value)
            elif key == "Fn::GetAtt":
                first = value.split(".")[0] if isinstance(value, str) else (value or [None])[0]
                if isinstance(first, str):
                    out.add(first)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    out |= {v.split(".")[0] for v in _SUB_VAR.findall(text)}
            out |= _referenced(value)
    elif isinstance(node, list):
        for value in node:
            out |= _referenced(value)
    return out


def _line_at(tpl: Any, path: list[Any]) -> int | None:
    """The line of ``path`` in the decoded template (the deepest node that has one)."""
    node, line = tpl, line_of(tpl)
    for part in path:
        if isinstance(node, dict) and part in node:
            key = next((k for k in node if k == part), None)
            line = line_of(key) or line_of(node[part]) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = line_of(node) or line
        else:
            break
    return line

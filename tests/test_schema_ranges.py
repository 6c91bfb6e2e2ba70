"""Every documented AWS range in the scenario schema, checked at both sides of each bound.

The cases are generated from the pydantic models: the walk below visits every model reachable
from :class:`Scenario` and every field carrying ``ge``/``le``/``gt``/``lt``/``min_length``/
``max_length``, so a new field gets its boundary cases for free. A value just inside a bound is
accepted; just outside, it is refused with a one-line :class:`ScenarioError` that names the
field. Ranges that a model checks in a validator (pydantic cannot see them) are listed in
``VALIDATOR_RANGES``; a few cases go through ``bluegreen-sim validate`` for exit status 2.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

import annotated_types as at
import pytest
from pydantic import BaseModel

from bluegreen_sim.cli import main
from bluegreen_sim.scenario import (
    AlarmSpec,
    HookSpec,
    LoadStep,
    MetricRef,
    Scenario,
    ScenarioError,
    StepSpec,
    TrafficRouting,
    scenario_from_dict,
)
from bluegreen_sim.scenario.contradictions import FAULT_FIELDS, HOOK_FIELDS, PATTERN_FIELDS

FLOAT_STEP = 0.1  # multiples of 0.1 are valid wherever a percentage must be one (ECS rules)


def _alarm(name: str) -> dict[str, Any]:
    return {"name": name, "metric": "RequestCount", "statistic": "Sum", "period": 60}


# Models that sit in a list, a dict or a union cannot be reached by attribute paths alone: here
# is a valid scenario holding one, and the path to it. The walk fails on a model missing here.
CONTEXTS: dict[type[BaseModel], tuple[dict[str, Any], tuple]] = {
    LoadStep: (
        {"load": {"pattern": "step", "steps": [{"at": 60, "rps": 10}]}},
        ("load", "steps", 0),
    ),
    StepSpec: (
        {"deployment": {"controller": "steps", "steps": [{"weight": 50}, {"weight": 100}]}},
        ("deployment", "steps", 0),
    ),
    HookSpec: (
        {"deployment": {"controller": "codedeploy", "hooks": {"AfterAllowTestTraffic": {}}}},
        ("deployment", "hooks", "AfterAllowTestTraffic"),
    ),
    TrafficRouting: (
        {
            "deployment": {
                "controller": "codedeploy",
                "config": {"type": "TimeBasedLinear", "percentage": 10, "interval": 60},
            }
        },
        ("deployment", "config"),
    ),
    AlarmSpec: ({"alarms": [_alarm("a")]}, ("alarms", 0)),
    MetricRef: (
        {
            "alarms": [
                {
                    "name": "ratio",
                    "expression": "100 * A / B",
                    "metrics": {
                        "A": {"metric": "HTTPCode_Target_5XX_Count", "target_group": "green"},
                        "B": {"metric": "RequestCount", "target_group": "green"},
                    },
                }
            ]
        },
        ("alarms", 0, "metrics", "A"),
    ),
}
# The FaultSpec context: every fault kind needs its own parameters; error_rate is the simplest.
_FAULT = ({"faults": [{"kind": "error_rate", "error_rate": 0.1}]}, ("faults", 0))
# Items for a list field with a length bound: alarm names, which the context defines.
_ALARM_NAMES = [f"alarm-{i}" for i in range(12)]


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, unions, lists, dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _is_container(annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_container(a) for a in typing.get_args(annotation)) or any(
            not (isinstance(a, type) and issubclass(a, BaseModel)) and a is not type(None)
            for a in typing.get_args(annotation)
        )
    return False


def _placements() -> list[tuple[type[BaseModel], dict[str, Any], tuple]]:
    """Every model reachable from Scenario, with a valid scenario and the path to it."""
    out, seen = [], set()

    def walk(model, base, path):
        if model in seen:
            return
        seen.add(model)
        out.append((model, base, path))
        for name, info in model.model_fields.items():
            for sub in _models_in(info.annotation):
                if sub in seen:
                    continue
                if _is_container(info.annotation):
                    if sub not in CONTEXTS and sub.__name__ != "FaultSpec":
                        raise AssertionError(
                            f"{sub.__name__} (in {model.__name__}.{name}) needs an entry in "
                            "CONTEXTS: a valid scenario that holds one"
                        )
                    walk(sub, *(CONTEXTS.get(sub) or _FAULT))
                else:
                    walk(sub, base, (*path, name))

    walk(Scenario, {}, ())
    return out


def _bounds(info) -> list[tuple[str, Any]]:
    """(kind, bound) of a field's constraints, also those inside an Annotated alias."""
    found = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        found += getattr(arg, "__metadata__", ())
        for inner in typing.get_args(arg):
            found += getattr(inner, "__metadata__", ())
    # an Annotated alias inside Optional keeps its Field: its constraints are in .metadata
    found = [x for m in found for x in (getattr(m, "metadata", None) or [m])]
    out = []
    for m in found:
        for kind, cls in (("ge", at.Ge), ("le", at.Le), ("gt", at.Gt), ("lt", at.Lt)):
            if isinstance(m, cls):
                out.append((kind, getattr(m, kind)))
        if isinstance(m, at.MinLen):
            out.append(("min_length", m.min_length))
        if isinstance(m, at.MaxLen):
            out.append(("max_length", m.max_length))
    return sorted(set(out), key=str)


def _is_int(info) -> bool:
    return int in (info.annotation, *typing.get_args(info.annotation))


def _values(info, kind, bound):
    """(just inside, just outside) a bound."""
    if kind in ("min_length", "max_length"):
        item = _ALARM_NAMES if typing.get_origin(info.annotation) is list else "x" * 300
        inside = bound if kind == "max_length" else max(bound, 1)
        outside = bound + 1 if kind == "max_length" else bound - 1
        return item[:inside], item[:outside]
    step = 1 if _is_int(info) else FLOAT_STEP
    inside = {"ge": bound, "le": bound, "gt": bound + step, "lt": bound - step}[kind]
    outside = {"ge": bound - step, "le": bound + step, "gt": bound, "lt": bound}[kind]
    return round(inside, 6), round(outside, 6)


def _cases():
    cases = []
    for model, base, path in _placements():
        for name, info in model.model_fields.items():
            for kind, bound in _bounds(info):
                where = ".".join(str(p) for p in (*path, name))
                cases.append(
                    pytest.param(base, (*path, name), info, kind, bound, id=where + f"-{kind}")
                )
    return cases


def _with(base: dict[str, Any], path: tuple, value) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    if path[:1] == ("deployment",) and path[-1] == "alarms":
        raw["alarms"] = [_alarm(n) for n in _ALARM_NAMES]
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    _activate(raw, path)
    return raw


def _activate(raw: dict[str, Any], path: tuple) -> None:
    """Make the setting at ``path`` one that is read: a setting that the rest of the scenario
    ignores (a probe's rate on a lambda hook, a ramp's target under a constant load) is refused
    as a contradiction before its range is checked."""
    field = path[-1]
    if path[:2] == ("deployment", "hooks"):
        kind = next((k for k, names in HOOK_FIELDS.items() if field in names), None)
        if kind is not None:
            raw["deployment"]["hooks"][path[2]]["kind"] = kind
    elif path[:1] == ("load",) and len(path) == 2:
        pattern = next((k for k, names in PATTERN_FIELDS.items() if field in names), None)
        if pattern is not None:
            raw["load"]["pattern"] = pattern
    elif path[:1] == ("faults",) and len(path) == 3:
        fault = raw["faults"][path[1]]
        kind = next((k for k, names in FAULT_FIELDS.items() if field in names), None)
        if kind is not None and field not in FAULT_FIELDS[fault["kind"]]:
            fault["kind"] = kind
            if "error_rate" not in FAULT_FIELDS[kind]:
                fault.pop("error_rate", None)


def _field_path(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


CASES = _cases()


def test_the_walk_finds_the_documented_ranges():
    ids = {c.id for c in CASES}
    # a few that the issue names, to be sure the walk reaches lists, dicts and Annotated aliases
    for expected in (
        "deployment.linear.step_percent-ge",
        "service.tasks-le",
        "blue.error_rate-le",
        "faults.0.fraction-gt",
        "alarms.0.name-max_length",
        "deployment.hooks.AfterAllowTestTraffic.requests-le",
        "deployment.config.percentage-ge",
        "deployment.alarms-max_length",
    ):
        assert expected in ids
    assert len(CASES) >= 40


# The bounds AWS documents (AWS_FACTS.md), by model and field: a test generated from the models
# alone would follow a bound that was widened by mistake, so the values are pinned here.
AWS_DOCUMENTED = {
    ("ServiceSpec", "tasks"): {"ge": 1, "le": 5000},
    ("ServiceSpec", "memory"): {"ge": 0.5, "le": 120},
    ("RevisionSpec", "tasks"): {"ge": 1, "le": 5000},
    ("RevisionSpec", "memory"): {"ge": 0.5, "le": 120},
    ("HealthCheckSpec", "healthy_threshold"): {"ge": 2, "le": 10},
    ("HealthCheckSpec", "unhealthy_threshold"): {"ge": 2, "le": 10},
    ("DeploymentSpec", "alarms"): {"max_length": 10},
    ("TrafficRouting", "percentage"): {"ge": 1, "le": 99},
    ("LinearConfig", "step_percent"): {"ge": 3.0, "le": 100.0},
    ("CanaryConfig", "canary_percent"): {"ge": 0.1, "le": 100.0},
    ("AlarmSpec", "name"): {"min_length": 1, "max_length": 255},
    ("AlarmSpec", "evaluation_periods"): {"ge": 1},
    ("AlarmSpec", "datapoints_to_alarm"): {"ge": 1},
}


@pytest.mark.parametrize("key", list(AWS_DOCUMENTED), ids=".".join)
def test_the_models_carry_the_documented_aws_bounds(key):
    model = next(m for m, _, _ in _placements() if m.__name__ == key[0])
    assert dict(_bounds(model.model_fields[key[1]])) == AWS_DOCUMENTED[key]


@pytest.mark.parametrize(("base", "path", "info", "kind", "bound"), CASES)
def test_each_bound_accepts_inside_and_refuses_outside(base, path, info, kind, bound):
    inside, outside = _values(info, kind, bound)
    scenario_from_dict(_with(base, path, inside))  # accepted
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_with(base, path, outside))
    assert err.value.field == _field_path(path)
    assert "\n" not in str(err.value)


# Ranges checked in model validators, out of pydantic's sight: (path, lowest, highest, base).
_HC = ("load_balancer", "health_check")
VALIDATOR_RANGES = [
    (("load_balancer", "idle_timeout"), 1, 4000, {}),
    (("load_balancer", "deregistration_delay"), None, 3600, {}),
    (("load_balancer", "slow_start"), 30, 900, {}),
    ((*_HC, "interval"), 5, 300, {"load_balancer": {"health_check": {"timeout": 2}}}),
    ((*_HC, "timeout"), 2, 120, {"load_balancer": {"health_check": {"interval": 300}}}),
    (("engine", "window"), 0.01, 10, {}),
    (("duration",), None, 7 * 86400, {}),
    (("cloudwatch", "publish_delay"), None, 600, {}),
    (("deployment", "termination_wait"), None, 2880 * 60, {}),
    (("deployment", "bake_time"), None, 1440 * 60, {}),
    (("deployment", "linear", "step_bake_time"), None, 1440 * 60, {}),
    (("deployment", "canary", "canary_bake_time"), None, 1440 * 60, {}),
    (("deployment", "ready_wait", "wait"), None, 120 * 3600, {}),
]


def _validator_cases():
    for path, lo, hi, base in VALIDATOR_RANGES:
        name = ".".join(path)
        # 1 % of the bound, at least 0.001: inside and outside differ clearly from the bound
        if lo is not None:
            yield pytest.param(path, lo, lo - max(lo * 0.01, 0.001), base, id=f"{name}-min")
        yield pytest.param(path, hi, hi + max(hi * 0.01, 0.001), base, id=f"{name}-max")


@pytest.mark.parametrize(("path", "inside", "outside", "base"), list(_validator_cases()))
def test_each_validator_range_accepts_its_bound_and_refuses_beyond(path, inside, outside, base):
    scenario_from_dict(_with(base, path, inside))
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_with(base, path, outside))
    assert err.value.field == _field_path(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("deployment:\n  linear: {step_percent: 2.9}\n", "deployment.linear.step_percent"),
        ("load_balancer: {idle_timeout: 4001}\n", "load_balancer.idle_timeout"),
        ("service: {tasks: 5001}\n", "service.tasks"),
    ],
)
def test_validate_exits_2_with_one_line_naming_the_field(tmp_path, capsys, snippet, field):
    path = tmp_path / "bad.yaml"
    path.write_text(snippet)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and str(path) in lines[0] and field in lines[0]
    assert "Traceback" not in err + out

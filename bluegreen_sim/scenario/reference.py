"""The scenario reference and the JSON Schema, both generated from the scenario's models.

``docs/scenario-reference.md`` (:func:`reference_markdown`) lists every field of a scenario file:
its type, default, range, unit, the AWS setting it stands for and what it means. The types,
defaults and ranges are read from the pydantic models, so they cannot drift; the words are in
:mod:`.field_docs` (one entry per field; a test fails for a field without one, and another
regenerates the page and compares). :func:`scenario_schema` is the JSON Schema editors use to
complete and check YAML files (``bluegreen-sim schema > scenario.schema.json``), with the same
words as descriptions and durations accepted as strings (``"90s"``).

Regenerate the page after changing a model::

    python -m bluegreen_sim.scenario.reference > docs/scenario-reference.md
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.functional_validators import BeforeValidator

from .durations import parse_duration
from .field_docs import DOCS, SECTIONS, Doc
from .model import Scenario

__all__ = ["DOCS", "Doc", "missing_docs", "reference_markdown", "scenario_schema"]

DURATION_PATTERN = r"^\s*((\d+(\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d)\s*)+$|^\s*\d+(\.\d*)?\s*$"

# --------------------------------------------------------------------------------------------
# Reading the models


def _models(root: type[BaseModel] = Scenario) -> dict[str, tuple[type[BaseModel], list[str]]]:
    """Every model under ``root``, by name, with the paths where it is used (page order)."""
    found: dict[str, tuple[type[BaseModel], list[str]]] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        entry = found.setdefault(model.__name__, (model, []))
        if path:
            entry[1].append(path)
        if path and model is root:
            return
        for name, info in model.model_fields.items():
            if name in _HIDDEN:
                continue
            for sub, suffix in _nested(info.annotation):
                visit(sub, f"{path}.{name}{suffix}" if path else f"{name}{suffix}")

    visit(root, "")
    order = [name for name in SECTIONS if name in found]
    return {name: found[name] for name in order + [n for n in found if n not in order]}


_HIDDEN = {"base_dir"}  # set by load_scenario, not written in files


def _nested(annotation: Any, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, suffix)]
    origin = typing.get_origin(annotation)
    if origin is list:
        suffix += "[]"
    elif origin is dict:
        suffix += ".NAME"
    return [m for arg in typing.get_args(annotation) for m in _nested(arg, suffix)]


def _is_duration(annotation: Any) -> bool:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, BeforeValidator) and meta.func is parse_duration:
            return True
    return any(_is_duration(a) for a in typing.get_args(annotation))


def _duration_field(info: Any) -> bool:
    lifted = any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in info.metadata)
    return lifted or _is_duration(info.annotation)


def _field_type(info: Any) -> str:
    return (
        "duration"
        if _duration_field(info) and not _optional(info)
        else (_type_name(info.annotation))
    )


def _optional(info: Any) -> bool:
    return type(None) in typing.get_args(info.annotation)


def _bounds(info: Any) -> list[str]:
    metas = list(info.metadata)

    def collect(a: Any) -> None:
        for m in getattr(a, "__metadata__", ()):
            metas.extend(m.metadata if isinstance(m, FieldInfo) else [m])
        for arg in typing.get_args(a):
            collect(arg)

    collect(info.annotation)
    out = []
    for m in metas:
        for cls, sign, attr in (
            (annotated_types.Ge, "≥", "ge"),
            (annotated_types.Gt, ">", "gt"),
            (annotated_types.Le, "≤", "le"),
            (annotated_types.Lt, "<", "lt"),
        ):
            if isinstance(m, cls):
                out.append(f"{sign} {getattr(m, attr):g}")
        if isinstance(m, annotated_types.MaxLen):
            out.append(f"at most {m.max_length} items")
        if isinstance(m, annotated_types.MinLen) and m.min_length:
            out.append(f"at least {m.min_length} characters")
    return list(dict.fromkeys(out))


def _type_name(annotation: Any) -> str:
    if _is_duration(annotation) and typing.get_origin(annotation) is not typing.Union:
        return "duration"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of name → {_type_name(args[1])}"
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(args[0])
    return {float: "number", int: "integer", bool: "true/false", str: "text"}.get(
        annotation, str(annotation)
    )


def _seconds(value: float) -> str:
    v = float(value)
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if v >= size and v % size == 0:
            return f"{v / size:g}{unit}"
    return f"{v * 1000:g}ms" if 0 < v < 1 else f"{v:g}s"


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        set_ = {k: v for k, v in value.model_dump(exclude_none=True).items() if v not in ([], {})}
        if isinstance(value, typing.cast(type, _distribution_type())):
            return "`" + ", ".join(f"{k}: {_fmt(k, v, value)}" for k, v in set_.items()) + "`"
        return "see below"
    if value is None:
        return "null"
    if _duration_field(info):
        return f"`{_seconds(value)}`"
    if value == "":
        return '`""`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{json.dumps(value)}`" if isinstance(value, list | dict) else f"`{value}`"


def _distribution_type() -> type:
    from .workload import Distribution

    return Distribution


def _fmt(name: str, value: Any, model: BaseModel) -> str:
    info = type(model).model_fields[name]
    return _seconds(value) if _duration_field(info) else str(value)


def missing_docs() -> list[str]:
    """``Model.field`` of every field that :data:`DOCS` does not describe."""
    out = []
    for name, (model, _) in _models().items():
        for field in model.model_fields:
            if field not in _HIDDEN and f"{name}.{field}" not in DOCS:
                out.append(f"{name}.{field}")
    return out


# --------------------------------------------------------------------------------------------
# The page


_INTRO = """\
# Scenario reference

<!-- Generated by `python -m bluegreen_sim.scenario.reference > docs/scenario-reference.md`
     from the scenario models; tests/test_reference.py fails when it is out of date. -->

Every field of a scenario file (YAML, TOML or JSON), section by section: its type, default,
allowed range, unit, the AWS setting it stands for, and what it means. Every field has a
default, so a scenario is only what differs from them; an unknown field is an error, and so
is a setting that the rest of the scenario ignores (a CodeDeploy `config` under
`controller: ecs`, a lognormal's `mean`, a key given twice).

* **Durations** are a number of seconds or a string: `"40ms"`, `"90s"`, `"5m"`, `"1h30m"`,
  `"2d"`. Defaults below are shown that way.
* **Fractions** are 0–1 (`error_rate: 0.02` is 2 %); **percentages** 0–100.
* **AWS setting**: the API / CloudFormation name the field models. *model choice* marks a
  parameter of the simulation where AWS documents nothing (see `docs/semantics.md`).
* Overrides use the dotted paths shown under each section: `--set service.concurrency=20`,
  `--set faults.0.at=2m`.
* `bluegreen-sim schema > scenario.schema.json` writes the same as a JSON Schema for an
  editor: with the YAML extension of VS Code, a first line
  `# yaml-language-server: $schema=scenario.schema.json` completes and checks the file.
* `bluegreen-sim validate FILE` checks a file and prints each revision's **capacity**: the
  offered utilisation, rate × mean service time ÷ (tasks × concurrency), with a warning from
  90 %. At 100 % and above the queues grow without bound (see `service.concurrency`).

A minimal scenario (everything else is a default):

```yaml
name: my-service
duration: 30m
load: {rps: 500}
service: {tasks: 20, concurrency: 10, latency: {distribution: lognormal, median: 40ms, p99: 150ms}}
green: {error_rate: 0.02}
deployment:
  controller: codedeploy
  config: CodeDeployDefault.ECSLinear10PercentEvery1Minutes
  termination_wait: 5m
  auto_rollback: [DEPLOYMENT_STOP_ON_ALARM]
  alarms: [green-5xx]
alarms:
  - {name: green-5xx, metric: HTTPCode_Target_5XX_Count, target_group: green, statistic: Sum,
     period: 1m, evaluation_periods: 2, threshold: 50}
```
"""


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|") if "\\|" not in text else text


def reference_markdown() -> str:
    """The scenario reference page (docs/scenario-reference.md)."""
    models = _models()
    out = [_INTRO, "## Sections\n"]
    for name, (_model, paths) in models.items():
        where = ", ".join(f"`{p}`" for p in paths[:3]) or "the top level"
        more = f" (+{len(paths) - 3} more)" if len(paths) > 3 else ""
        out.append(f"* [{name}](#{name.lower()}): {where}{more}")
    out.append("")
    for name, (model, paths) in models.items():
        out.append(f"## {name}\n")
        out.append(SECTIONS.get(name) or ((model.__doc__ or "").strip() + "\n").splitlines()[0])
        if paths:
            out.append("\nUsed at " + ", ".join(f"`{p}`" for p in paths) + ".")
        out.append("")
        out.append("| field | type | default | range | unit | AWS setting | meaning |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for field, info in model.model_fields.items():
            if field in _HIDDEN:
                continue
            doc = DOCS.get(f"{name}.{field}", Doc("(undocumented)"))
            rng = "; ".join([*_bounds(info), *([doc.range] if doc.range else [])]) or ""
            unit = doc.unit or ("duration" if _duration_field(info) else "")
            row = [
                f"`{field}`",
                _field_type(info),
                _default(info),
                rng,
                unit,
                doc.aws,
                doc.text,
            ]
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# The JSON Schema


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "description": 'seconds, or a string such as "40ms", "90s", "5m", "1h30m"',
}


def _durations(node: Any) -> Any:
    """Replace the number types of a duration property by number-or-duration-string."""
    if isinstance(node, dict):
        if node.get("type") == "number":
            rest = {k: v for k, v in node.items() if k not in ("type",)}
            return {**_DURATION_SCHEMA, **rest}
        return {k: _durations(v) if k in ("anyOf", "oneOf") else v for k, v in node.items()}
    if isinstance(node, list):
        return [_durations(v) for v in node]
    return node


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, with descriptions from the reference."""
    schema = Scenario.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    for name, (model, _) in _models().items():
        node = schema if model is Scenario else defs.get(name)
        if node is None:
            continue
        if name in SECTIONS:
            node["description"] = SECTIONS[name]
        props = node.get("properties", {})
        for field in _HIDDEN & set(props):
            del props[field]
        for field, info in model.model_fields.items():
            if field not in props:
                continue
            if _duration_field(info):
                props[field] = _durations(props[field])
            doc = DOCS.get(f"{name}.{field}")
            if doc is not None:
                words = doc.text + (f" AWS: {doc.aws}." if doc.aws else "")
                props[field]["description"] = words + (f" Unit: {doc.unit}." if doc.unit else "")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "bluegreen-sim scenario"
    return schema


if __name__ == "__main__":
    import sys

    sys.stdout.write(reference_markdown())

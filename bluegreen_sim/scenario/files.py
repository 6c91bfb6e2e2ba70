"""Reading scenario files: YAML, TOML or JSON, validation errors in one line, CSV inputs."""

from __future__ import annotations

import csv
import json
import math
import tomllib
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from .contradictions import contradictions
from .errors import ScenarioError
from .model import Scenario
from .overrides import apply_overrides
from .workload import Distribution


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a key given twice in one mapping.

    PyYAML keeps the last of two equal keys; in a scenario that silently drops a setting the
    author wrote, so it is an error here. Everything else is SafeLoader's: plain data only.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader's own error says it better
            if key in seen:
                raise DuplicateKeyError(key, seen[key].line + 1, key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of a YAML file names the same key twice."""

    def __init__(self, key: Any, first: int, again: int):
        super().__init__(f"duplicate key {key!r} (line {first}, again on line {again})")
        self.key, self.first, self.again = key, first, again


def safe_load_strict(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (:class:`DuplicateKeyError`)."""
    return yaml.load(text, Loader=_StrictLoader)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key, 0, 0)
        out[key] = value
    return out


def _read_raw(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), None, f"cannot read the file ({exc})") from None
    try:
        if suffix in (".yaml", ".yml"):
            data = safe_load_strict(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            raise ScenarioError(
                str(path), None, "expected a .yaml, .yml, .toml or .json scenario file"
            )
    except DuplicateKeyError as exc:
        where = f"line {exc.again}" if exc.again else None
        first = f" (first on line {exc.first})" if exc.first else ""
        raise ScenarioError(
            str(path), where, f"{exc.key!r} is given twice in the same mapping{first}; remove one"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, yaml.constructor.ConstructorError):
            problem = f"YAML tags are not allowed (scenario files are data): {problem}"
        raise ScenarioError(str(path), where, f"invalid YAML: {problem}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), None, f"invalid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(str(path), f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    if data is None:
        raise ScenarioError(str(path), None, "the file is empty; expected a mapping of fields")
    if not isinstance(data, dict):
        raise ScenarioError(str(path), None, "expected a mapping of fields at the top level")
    return data


def _all_field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in _nested_models(info.annotation):
            names |= _all_field_names(arg, seen)
    return names


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif str(p).startswith(("function-", "literal[", "union[")) or p in (
            "str",
            "float",
            "int",
            "TrafficRouting",
        ):
            continue  # pydantic's internal union branch names: not user fields
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _friendly(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling; see the scenario reference)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    scalar = isinstance(err.get("input"), str | int | float | bool)
    return f"{msg} (got {err['input']!r})" if scalar and "got " not in msg else msg


def _refine(path: str, message: str) -> tuple[str, str]:
    """Name the field a model-level check is about: ``load_balancer`` + "slow_start must be …"
    → ``load_balancer.slow_start``; a message "deployment.config: …" moves to the path."""
    head, _, rest = message.partition(" ")
    token = head.rstrip(":")
    # whole path segments: ``ready_wait`` does not end with the field ``wait``
    if token.split(".")[0] not in _FIELD_NAMES or f".{path}".endswith(f".{token}"):
        return path, message  # not a field, or a field validator's error, already in place
    where = token if path == "(top level)" else f"{path}.{token}"
    return where, (rest if head.endswith(":") else message)


def scenario_from_dict(
    raw: dict[str, Any], source: str = "<scenario>", base_dir: str | None = None
) -> Scenario:
    """Validate plain data into a :class:`Scenario`, raising :class:`ScenarioError`."""
    if is_sweep_file(raw):
        raise ScenarioError(
            source,
            None,
            "this is a sweep file (it names a base 'scenario' and a 'grid'), not a scenario; "
            "run it with 'bluegreen-sim sweep FILE'",
        )
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # Union types report one error per branch; the most specific is the longest path.
        err = max(errors, key=lambda e: (e["type"] == "value_error", len(e["loc"])))
        if any(e["type"] == "extra_forbidden" for e in errors):
            err = next(e for e in errors if e["type"] == "extra_forbidden")
        extra = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        where, message = _field_path(err["loc"]), _friendly(err)
        if err["type"] == "value_error":
            where, message = _refine(where, message)
        raise ScenarioError(source, where, message + extra) from None
    found = list(contradictions(scenario))
    if found:
        where, message = found[0]
        extra = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise ScenarioError(source, where, f"{message}{extra} (see the scenario reference)")
    if base_dir is not None:
        scenario.base_dir = base_dir
    _check_files(scenario, source)
    return scenario


def _check_files(scenario: Scenario, source: str) -> None:
    """Refuse missing or malformed CSV inputs now, not half-way through a run."""
    if scenario.load.pattern == "trace":
        read_trace(scenario, source)
    for rev in ("blue", "green"):
        for field in ("latency", "startup"):
            dist = getattr(scenario.revision(rev), field)
            if dist.distribution == "empirical":
                read_empirical(scenario, dist, source, f"{rev}.{field}.file")


def resolve_path(scenario: Scenario, name: str) -> Path:
    p = Path(name)
    if not p.is_absolute() and scenario.base_dir:
        p = Path(scenario.base_dir) / p
    return p


def read_trace(scenario: Scenario, source: str = "<scenario>") -> list[tuple[float, float]]:
    """The load trace as sorted (time_s, rps) breakpoints."""
    path = resolve_path(scenario, scenario.load.trace or "")
    rows = _read_csv_numbers(path, source, "load.trace", columns=2)
    rows.sort()
    if any(r < 0 for _, r in rows):
        raise ScenarioError(source, "load.trace", f"{path}: rps must be >= 0")
    return rows


def read_empirical(
    scenario: Scenario, dist: Distribution, source: str = "<scenario>", field: str = "file"
) -> list[float]:
    """Empirical durations in seconds (the CSV holds milliseconds)."""
    path = resolve_path(scenario, dist.file or "")
    rows = _read_csv_numbers(path, source, field, columns=1)
    values = [r[0] / 1000.0 for r in rows]
    if any(v < 0 for v in values):
        raise ScenarioError(source, field, f"{path}: durations must be >= 0")
    return values


def _read_csv_numbers(path: Path, source: str, field: str, columns: int) -> list[tuple]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        raise ScenarioError(source, field, f"cannot read CSV file {str(path)!r}") from None
    out = []
    for i, row in enumerate(rows):
        if not row or not "".join(row).strip():
            continue
        try:
            values = tuple(float(x) for x in row[:columns])
        except ValueError:
            if i == 0:
                continue  # a header line
            raise ScenarioError(
                source, field, f"{path} line {i + 1}: expected {columns} number(s)"
            ) from None
        if len(values) < columns or not all(math.isfinite(v) for v in values):
            raise ScenarioError(source, field, f"{path} line {i + 1}: expected {columns} numbers")
        out.append(values)
    if not out:
        raise ScenarioError(source, field, f"{path}: no data rows")
    return out


_SWEEP_ONLY = {"grid", "zip", "replications", "entropy", "backend", "workers", "chunksize"}


def is_sweep_file(raw: dict[str, Any]) -> bool:
    """Does this mapping look like a sweep file rather than a scenario?"""
    return isinstance(raw.get("scenario"), str) or bool(_SWEEP_ONLY & set(raw))


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML, TOML or JSON file (:class:`ScenarioError` if not)."""
    return _read_raw(Path(path))


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data that loads back into the same scenario.

    Every field is given (defaults too), durations in seconds, and the CSV paths made absolute,
    so the file can be moved: ``--out`` writes it as ``scenario.yaml``.
    """
    data = scenario.model_dump(mode="json", exclude={"base_dir"})
    if data["load"].get("trace"):
        data["load"]["trace"] = str(resolve_path(scenario, data["load"]["trace"]).resolve())
    for section in ("service", "blue", "green"):
        for name in ("latency", "startup"):
            dist = data[section].get(name)
            if dist and dist.get("file"):
                dist["file"] = str(resolve_path(scenario, dist["file"]).resolve())
    return data


def scenario_yaml(scenario: Scenario) -> str:
    """:func:`scenario_data` as YAML, with a first line that says what it is."""
    head = "# The scenario as it ran (overrides applied, every default written out).\n"
    return head + yaml.safe_dump(scenario_data(scenario), sort_keys=False, allow_unicode=True)


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | list[str] | None = None
) -> Scenario:
    """Read, override and validate a scenario file (YAML, TOML or JSON).

    Args:
        path: the scenario file; relative CSV paths inside it are resolved from its folder.
        overrides: dotted overrides, as a dict or a list of ``key=value`` strings.

    Raises:
        ScenarioError: the file cannot be read or is not a valid scenario.
    """
    path = Path(path)
    raw = _read_raw(path)
    raw = apply_overrides(raw, overrides, source=str(path))
    return scenario_from_dict(raw, source=str(path), base_dir=str(path.parent.resolve()))


# Every field name of the scenario file: lets an error of a model-level check name its field.
_FIELD_NAMES = _all_field_names(Scenario)

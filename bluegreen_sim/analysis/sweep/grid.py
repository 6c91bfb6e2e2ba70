"""Grid points: the combinations a sweep runs, their scenarios and their seeds."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...scenario import (
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
)

if TYPE_CHECKING:
    pass


def _base_scenario(scenario: Scenario | str | Path) -> tuple[Scenario, str]:
    if isinstance(scenario, Scenario):
        return scenario, f"<scenario {scenario.name}>"
    return load_scenario(scenario), str(scenario)


def grid_points(
    scenario: Scenario | str | Path,
    grid: dict[str, Sequence[Any]] | None = None,
    zip: dict[str, Sequence[Any]] | None = None,
    *,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The overrides of every grid point, each checked: a dry run of :func:`sweep`.

    Grid points are the product of the ``grid`` lists (the first key varies slowest), times the
    rows of ``zip``.

    Raises:
        ScenarioError: a grid or zip block is malformed, or a value makes the scenario invalid
            (the error names the grid key).
    """
    base, default_source = _base_scenario(scenario)
    source = source or default_source
    points = _expand(grid or {}, zip or {}, source)
    raw = base.model_dump(mode="json")
    for overrides in points:
        _point_scenario(raw, overrides, source, base.base_dir)
    return points


def _expand(
    grid: dict[str, Sequence[Any]], zipped: dict[str, Sequence[Any]], source: str
) -> list[dict[str, Any]]:
    for name, block in (("grid", grid), ("zip", zipped)):
        if not isinstance(block, dict):
            raise ScenarioError(source, name, "expected a mapping {dotted.path: [values]}")
        for key, values in block.items():
            if not isinstance(key, str) or not key:
                raise ScenarioError(source, name, f"keys must be dotted paths, got {key!r}")
            if isinstance(values, str | bytes | dict) or not isinstance(values, Sequence):
                raise ScenarioError(source, f"{name} {key}", "expected a list of values")
            if not values:
                raise ScenarioError(source, f"{name} {key}", "the list of values is empty")
    both = set(grid) & set(zipped)
    if both:
        raise ScenarioError(source, f"zip {sorted(both)[0]}", "is also a grid key")
    lengths = {len(v) for v in zipped.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{k}: {len(v)}" for k, v in zipped.items())
        raise ScenarioError(source, "zip", f"the lists must have one length ({shown})")
    zip_rows = [dict(zip(zipped, values, strict=True)) for values in _zip_rows(zipped)]
    grid_rows = [
        dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    return [{**g, **z} for g in grid_rows for z in zip_rows]


def _zip_rows(zipped: dict[str, Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows of a ``zip`` block (one empty row when there is none)."""
    if not zipped:
        return [()]
    return list(zip(*zipped.values(), strict=True))


def _point_scenario(
    raw: dict[str, Any], overrides: dict[str, Any], source: str, base_dir: str | None
) -> Scenario:
    """The scenario of one grid point; a bad value is a ScenarioError naming its grid key."""
    data = apply_overrides(raw, overrides, source=source)
    try:
        return scenario_from_dict(data, source, base_dir=base_dir)
    except ScenarioError as exc:
        key = _guilty_key(exc.field, overrides)
        if key is not None:
            where = "" if _dotted(exc.field) == key else f" ({exc.field})"
            raise ScenarioError(
                source, f"grid {key}", f"value {overrides[key]!r}: {exc.message}{where}"
            ) from None
        point = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ScenarioError(
            source, "grid point " + point, f"{exc.field or '(top level)'}: {exc.message}"
        ) from None


def _dotted(field: str | None) -> str:
    return (field or "").replace("[", ".").replace("]", "")


def _guilty_key(field: str | None, overrides: dict[str, Any]) -> str | None:
    """The override key whose value the error is about (the longest matching prefix)."""
    path = _dotted(field)
    best = None
    for key in overrides:
        if (path == key or path.startswith(key + ".") or key.startswith(path + ".")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return best


def _seed(entropy: int, spawn_key: tuple[int, ...]) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy, spawn_key=spawn_key)


def _parse_spawn_key(text: Any) -> tuple[int, ...]:
    if isinstance(text, tuple | list):
        return tuple(int(x) for x in text)
    parts = [p for p in str(text).strip("()[] ").split(",") if p.strip()]
    return tuple(int(p) for p in parts)


def _local_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _relative(here: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else here / p

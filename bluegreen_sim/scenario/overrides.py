"""Dotted overrides (``green.error_rate=0.02``) applied to a raw scenario mapping."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ScenarioError


def _parse_override_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(
    raw: dict[str, Any], overrides: dict[str, Any] | list[str] | None, source: str = "overrides"
) -> dict[str, Any]:
    """Apply dotted overrides (``green.error_rate=0.05`` or ``{"green.error_rate": 0.05}``).

    List indices are numbers (``faults.0.error_rate``). String values from ``k=v`` items are
    parsed as YAML scalars/flow collections (so ``0.05`` is a number, ``[a, b]`` a list).
    An override that switches ``deployment.controller`` (or ``deployment.strategy``) drops
    the settings only the replaced one reads, with a :class:`ScenarioWarning`.
    """
    if not overrides:
        return raw
    if isinstance(overrides, list | tuple):
        items = {}
        for item in overrides:
            if "=" not in item:
                raise ScenarioError(source, item, "expected an override of the form key=value")
            key, value = item.split("=", 1)
            items[key.strip()] = _parse_override_value(value)
        overrides = items
    data = json.loads(json.dumps(raw))  # a deep copy of plain data
    for key, value in overrides.items():
        parts = key.split(".")
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(
                        source, key, f"'{part}' is not an index of a list of {len(node)}"
                    )
                idx = int(part)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if not isinstance(node.get(part), dict | list):
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError(source, key, f"cannot set a field inside '{part}'")
    from .contradictions import drop_switched_settings  # it imports the models

    return drop_switched_settings(data, raw, source)

"""Candidates and regressions for :func:`~bluegreen_sim.analysis.advise.advise`.

A *candidate* is a strategy and alarm setting, given as dotted overrides of the scenario; a
*regression* is what a bad release does (extra errors, slower responses, a crash after the full
shift). This module reads candidates files, builds the default grid around a scenario's own
setting, and turns a scenario into its healthy release and each regression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..scenario import Scenario, ScenarioError, apply_overrides

__all__ = ["DEFAULT_REGRESSIONS", "HEALTHY", "default_candidates", "load_candidates"]

DEFAULT_REGRESSIONS: dict[str, dict[str, Any]] = {
    "errors +0.5%": {"kind": "errors", "delta": 0.005},
    "errors +1%": {"kind": "errors", "delta": 0.01},
    "errors +2%": {"kind": "errors", "delta": 0.02},
    "errors +5%": {"kind": "errors", "delta": 0.05},
    "latency +50%": {"kind": "latency", "multiply": 1.5},
    "crash after full shift": {"kind": "crash"},
}
HEALTHY = "healthy"
_STRATEGIES = {
    "canary 10% 5m": "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "canary 10% 15m": "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "linear 10% 1m": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "all at once": "CodeDeployDefault.ECSAllAtOnce",
}


def load_candidates(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a candidates file: a mapping ``name: {dotted.override: value, ...}`` (optionally
    under a top-level ``candidates:`` key).

    Raises:
        ScenarioError: the file is missing, not YAML, or not such a mapping.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(str(path), None, f"not a readable YAML file ({exc})") from None
    if isinstance(data, dict) and set(data) == {"candidates"}:
        data = data["candidates"]
    if not isinstance(data, dict) or not data:
        raise ScenarioError(str(path), "candidates", "expected a mapping of name: {overrides}")
    out = {}
    for name, overrides in data.items():
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise ScenarioError(str(path), f"candidates.{name}", "expected a mapping of overrides")
        out[str(name)] = dict(overrides)
    return out


def default_candidates(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """A grid around the scenario's own setting: CodeDeploy strategies × alarm thresholds.

    Strategies: the scenario's own, canary 10 % for 5 and 15 minutes, linear 10 % a minute, all
    at once. Thresholds: half, the same as and twice the first deployment alarm's (rounded for
    counts). Without CodeDeploy or without an alarm, only what applies is varied.
    """
    strategies: dict[str, dict[str, Any]] = {"own": {}}
    if scenario.deployment.controller == "codedeploy":
        own = scenario.deployment.config
        for name, config in _STRATEGIES.items():
            if config != own:
                strategies[name] = {"deployment.config": config}
    thresholds: dict[str, dict[str, Any]] = {"": {}}
    names = [a.name for a in scenario.alarms]
    if scenario.deployment.alarms:
        i = names.index(scenario.deployment.alarms[0])
        thr = scenario.alarms[i].threshold
        count = scenario.alarms[i].expression is None
        for factor in (0.5, 2.0):
            value = max(1.0, round(thr * factor)) if count else thr * factor
            if value != thr:
                thresholds[f", threshold {value:g}"] = {f"alarms.{i}.threshold": value}
    return {s + t: {**so, **to} for s, so in strategies.items() for t, to in thresholds.items()}


def _healthy_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """The scenario with green as good as blue: blue's error rate, no faults on green."""
    data = apply_overrides(raw, {})
    data = {**data}
    green = dict(data.get("green") or {})
    service = data.get("service") or {}
    blue = data.get("blue") or {}
    base = blue.get("error_rate")
    if base is None:
        base = service.get("error_rate", 0.0)
    green["error_rate"] = base
    data["green"] = green
    data["faults"] = [f for f in data.get("faults") or [] if f.get("revision") == "blue"]
    return data


def _regression_raw(healthy: dict[str, Any], spec: dict[str, Any], name: str) -> dict[str, Any]:
    kind = spec.get("kind")
    data = dict(healthy)
    if kind == "errors":
        data["green"] = {**data["green"], "error_rate": data["green"]["error_rate"] + spec["delta"]}
    elif kind == "latency":
        fault = {"kind": "latency", "revision": "green", "multiply": spec.get("multiply", 1.5)}
        data["faults"] = [*data["faults"], fault]
    elif kind == "crash":
        fault = {
            "kind": "crash",
            "revision": "green",
            "after": spec.get("after", "full_traffic"),
            "at": spec.get("at", 0.0),
            "fraction": spec.get("fraction", 1.0),
        }
        data["faults"] = [*data["faults"], fault]
    else:
        raise ScenarioError(
            "regressions", name, f"kind must be errors, latency or crash; got {kind!r}"
        )
    return data

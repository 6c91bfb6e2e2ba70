"""The input: a scenario file's models by topic, durations, reading files and overrides.

A scenario is data, never code: YAML is read with ``yaml.safe_load`` only, TOML with
``tomllib`` and JSON with ``json``. Every field has a default, unknown fields are errors (a typo
must not silently fall back to a default), and the ranges AWS documents are enforced here, so a
bad file is refused before anything runs. Errors are :class:`ScenarioError`, whose one-line
message names the file, the field path and what was expected.

This package imports nothing else of bluegreen_sim; everything else may import it.
"""

from .alarms import (
    LB_ONLY_METRICS,
    METRICS,
    STATISTICS,
    TG_ONLY_METRICS,
    AlarmSpec,
    CloudWatchSpec,
    MetricRef,
)
from .deployment import (
    CODEDEPLOY_CONFIGS,
    CODEDEPLOY_HOOKS,
    ECS_HOOK_STAGES,
    CanaryConfig,
    CircuitBreakerSpec,
    CircuitBreakerThreshold,
    DeploymentSpec,
    HookSpec,
    LinearConfig,
    ReadyWait,
    StepSpec,
    TrafficRouting,
)
from .durations import Z99, Duration, Fraction, parse_duration
from .errors import ScenarioError
from .faults import FAULT_ANCHORS, FAULT_KINDS, FaultSpec
from .files import load_scenario, read_empirical, read_trace, resolve_path, scenario_from_dict
from .load_balancer import HealthCheckSpec, LoadBalancerSpec
from .model import EngineSpec, Pricing, Scenario
from .overrides import apply_overrides
from .workload import (
    FARGATE_CPU,
    ConnectionsSpec,
    Distribution,
    LoadSpec,
    LoadStep,
    RevisionSpec,
    ServiceSpec,
)

__all__ = [
    "CODEDEPLOY_CONFIGS",
    "CODEDEPLOY_HOOKS",
    "ECS_HOOK_STAGES",
    "FARGATE_CPU",
    "FAULT_ANCHORS",
    "FAULT_KINDS",
    "LB_ONLY_METRICS",
    "METRICS",
    "STATISTICS",
    "TG_ONLY_METRICS",
    "Z99",
    "AlarmSpec",
    "CanaryConfig",
    "CircuitBreakerSpec",
    "CircuitBreakerThreshold",
    "CloudWatchSpec",
    "ConnectionsSpec",
    "DeploymentSpec",
    "Distribution",
    "Duration",
    "EngineSpec",
    "FaultSpec",
    "Fraction",
    "HealthCheckSpec",
    "HookSpec",
    "LinearConfig",
    "LoadBalancerSpec",
    "LoadSpec",
    "LoadStep",
    "MetricRef",
    "Pricing",
    "ReadyWait",
    "RevisionSpec",
    "Scenario",
    "ScenarioError",
    "ServiceSpec",
    "StepSpec",
    "TrafficRouting",
    "apply_overrides",
    "load_scenario",
    "parse_duration",
    "read_empirical",
    "read_trace",
    "resolve_path",
    "scenario_from_dict",
]

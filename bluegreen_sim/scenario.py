"""The scenario file: pydantic models, loading, durations and dotted overrides.

A scenario is data, never code: YAML is read with ``yaml.safe_load`` only, TOML with
``tomllib`` and JSON with ``json``. Every field has a default, unknown fields are errors (a typo
must not silently fall back to a default), and the ranges AWS documents are enforced here, so a
bad file is refused before anything runs. Errors are :class:`ScenarioError`, whose one-line
message names the file, the field path and what was expected.
"""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# --------------------------------------------------------------------------------------------
# Durations

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d)")


def parse_duration(value: Any) -> float:
    """Seconds from ``"90s"``, ``"5m"``, ``"1h30m"``, ``"40ms"`` or a plain number of seconds.

    Raises:
        ValueError: the value is not a non-negative duration.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 5m, 1h30m or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(
                    f"expected a duration such as 90s, 5m, 1h30m or a number of seconds, "
                    f"got {value!r}"
                ) from None
    else:
        raise ValueError("expected a duration such as 90s, 5m, 1h30m or a number of seconds")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------------
# Distributions (service time, start-up time, crash-loop uptime)

Z99 = 2.3263478740408408  # standard normal 0.99 quantile: lognormal by median and p99


class Distribution(_Model):
    """A non-negative random duration.

    ``exponential`` (``mean``), ``lognormal`` (``median`` and ``p99``), ``constant``
    (``value``), ``uniform`` (``low``, ``high``) or ``empirical`` (``file``: a CSV whose first
    column holds durations in milliseconds; sampled with replacement).
    """

    distribution: Literal["exponential", "lognormal", "constant", "uniform", "empirical"] = (
        "lognormal"
    )
    mean: Duration | None = None
    median: Duration | None = None
    p99: Duration | None = None
    value: Duration | None = None
    low: Duration | None = None
    high: Duration | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _check_parameters(self) -> Distribution:
        needed = {
            "exponential": ("mean",),
            "lognormal": ("median", "p99"),
            "constant": ("value",),
            "uniform": ("low", "high"),
            "empirical": ("file",),
        }[self.distribution]
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"{self.distribution} needs '{name}'")
        if self.distribution == "exponential" and self.mean <= 0:
            raise ValueError("exponential 'mean' must be > 0")
        if self.distribution == "lognormal" and not (0 < self.median < self.p99):
            raise ValueError("lognormal needs 0 < median < p99")
        if self.distribution == "uniform" and self.low > self.high:
            raise ValueError("uniform needs low <= high")
        return self

    def mean_seconds(self, samples: Any = None) -> float:
        """The mean, in seconds (empirical: the mean of its samples)."""
        if self.distribution == "exponential":
            return self.mean
        if self.distribution == "lognormal":
            sigma = math.log(self.p99 / self.median) / Z99
            return self.median * math.exp(sigma * sigma / 2)
        if self.distribution == "constant":
            return self.value
        if self.distribution == "uniform":
            return (self.low + self.high) / 2
        return float(sum(samples) / len(samples)) if samples is not None else float("nan")


def _latency_default() -> Distribution:
    return Distribution(distribution="lognormal", median=0.040, p99=0.150)


def _startup_default() -> Distribution:
    return Distribution(distribution="uniform", low=30.0, high=90.0)


# --------------------------------------------------------------------------------------------
# Load


class LoadStep(_Model):
    at: Duration
    rps: float = Field(ge=0)


class LoadSpec(_Model):
    """Production request load: a mean rate with a pattern, Poisson or evenly spaced arrivals."""

    rps: float = Field(default=100.0, ge=0, le=1_000_000)
    pattern: Literal["constant", "step", "ramp", "diurnal", "trace"] = "constant"
    steps: list[LoadStep] = Field(default_factory=list)
    ramp_to: float | None = Field(default=None, ge=0)
    ramp_start: Duration = 0.0
    ramp_end: Duration | None = None
    period: Duration = 86400.0
    amplitude: Fraction = 0.5
    phase: Duration = 0.0
    trace: str | None = None
    arrivals: Literal["poisson", "uniform"] = "poisson"

    @model_validator(mode="after")
    def _check_pattern(self) -> LoadSpec:
        if self.pattern == "step" and not self.steps:
            raise ValueError("pattern 'step' needs 'steps' (a list of {at, rps})")
        if self.pattern == "ramp" and self.ramp_to is None:
            raise ValueError("pattern 'ramp' needs 'ramp_to'")
        if self.pattern == "trace" and not self.trace:
            raise ValueError("pattern 'trace' needs 'trace' (a CSV of time_s, rps)")
        if self.pattern == "diurnal" and self.period <= 0:
            raise ValueError("pattern 'diurnal' needs a period > 0")
        return self


# --------------------------------------------------------------------------------------------
# Tasks and revisions

FARGATE_CPU = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class ServiceSpec(_Model):
    """What every task of the service is, unless a revision says otherwise."""

    tasks: int = Field(default=10, ge=1, le=5000)
    cpu: float = 0.5
    memory: float = Field(default=1.0, ge=0.5, le=120)
    concurrency: int = Field(default=1, ge=1, le=10_000)
    latency: Distribution = Field(default_factory=_latency_default)
    error_rate: Fraction = 0.0
    startup: Distribution = Field(default_factory=_startup_default)

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, v: float) -> float:
        if v not in FARGATE_CPU:
            raise ValueError(f"Fargate task cpu (vCPU) must be one of {FARGATE_CPU}")
        return v


class RevisionSpec(_Model):
    """Per-revision overrides of :class:`ServiceSpec`; unset fields inherit from ``service``."""

    tasks: int | None = Field(default=None, ge=1, le=5000)
    cpu: float | None = None
    memory: float | None = Field(default=None, ge=0.5, le=120)
    concurrency: int | None = Field(default=None, ge=1, le=10_000)
    latency: Distribution | None = None
    error_rate: Fraction | None = None
    startup: Distribution | None = None

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, v: float | None) -> float | None:
        if v is not None and v not in FARGATE_CPU:
            raise ValueError(f"Fargate task cpu (vCPU) must be one of {FARGATE_CPU}")
        return v


# --------------------------------------------------------------------------------------------
# Load balancer


class HealthCheckSpec(_Model):
    """Target-group health checks, with AWS's ranges (ALB defaults)."""

    enabled: bool = True
    interval: Duration = 30.0
    timeout: Duration = 5.0
    healthy_threshold: int = Field(default=5, ge=2, le=10)
    unhealthy_threshold: int = Field(default=2, ge=2, le=10)
    # AWS documents one passing check for a new target; observed behaviour is the healthy
    # threshold (AWS_FACTS C4). A parameter, default as documented.
    initial_checks: int = Field(default=1, ge=1, le=10)
    # A probe queues at the task like a request (an overloaded task fails it by timeout); its
    # own work is the health-check path's, usually far less than a request's. null: probes
    # take a request's service time.
    probe_time: Duration | None = 0.005

    @model_validator(mode="after")
    def _check_ranges(self) -> HealthCheckSpec:
        if not 5 <= self.interval <= 300:
            raise ValueError("interval must be between 5s and 300s")
        if not 2 <= self.timeout <= 120:
            raise ValueError("timeout must be between 2s and 120s")
        if self.timeout >= self.interval:
            raise ValueError("timeout must be smaller than interval")
        return self


class LoadBalancerSpec(_Model):
    """The Application Load Balancer (or a Network Load Balancer, for the AllAtOnce rule)."""

    type: Literal["application", "network"] = "application"
    routing: Literal["round_robin", "least_outstanding_requests", "weighted_random"] = "round_robin"
    deregistration_delay: Duration = 300.0
    slow_start: Duration = 0.0
    idle_timeout: Duration = 60.0
    health_check: HealthCheckSpec = Field(default_factory=HealthCheckSpec)
    test_listener: bool = False

    @model_validator(mode="after")
    def _check_ranges(self) -> LoadBalancerSpec:
        if self.deregistration_delay > 3600:
            raise ValueError("deregistration_delay must be between 0s and 3600s")
        if self.slow_start != 0 and not 30 <= self.slow_start <= 900:
            raise ValueError("slow_start must be 0 (off) or between 30s and 900s")
        if self.slow_start and self.routing == "least_outstanding_requests":
            raise ValueError("slow_start cannot be combined with least_outstanding_requests")
        if not 1 <= self.idle_timeout <= 4000:
            raise ValueError("idle_timeout must be between 1s and 4000s")
        return self


# --------------------------------------------------------------------------------------------
# Faults

FAULT_KINDS = (
    "error_rate",
    "latency",
    "crash",
    "crash_loop",
    "health_check",
    "slow_leak",
    "load_dependent",
    "dependency_outage",
)
FAULT_ANCHORS = (
    "start",
    "deployment_start",
    "green_running",
    "test_traffic",
    "production_traffic",
    "full_traffic",
)


class FaultSpec(_Model):
    """Something that goes wrong: what, to which revision, from when, for how long, how widely."""

    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    revision: Literal["blue", "green", "both"] = "green"
    after: Literal[FAULT_ANCHORS] = "start"  # type: ignore[valid-type]
    at: Duration = 0.0
    duration: Duration | None = None
    fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    error_rate: Fraction | None = None
    multiply: float = Field(default=1.0, gt=0)
    add: Duration = 0.0
    probability: Fraction = 1.0
    uptime: Distribution | None = None
    growth: Duration = 0.0
    crash_after: Duration | None = None
    utilisation: Fraction = 0.8

    @model_validator(mode="after")
    def _check_kind(self) -> FaultSpec:
        if self.kind in ("error_rate", "load_dependent", "dependency_outage") and (
            self.error_rate is None
        ):
            raise ValueError(f"fault '{self.kind}' needs 'error_rate'")
        if self.kind == "latency" and self.multiply == 1.0 and self.add == 0.0:
            raise ValueError("fault 'latency' needs 'multiply' (≠ 1) or 'add' (> 0)")
        if self.kind == "slow_leak" and self.growth <= 0 and self.crash_after is None:
            raise ValueError("fault 'slow_leak' needs 'growth' (> 0) and/or 'crash_after'")
        return self


# --------------------------------------------------------------------------------------------
# CloudWatch alarms

METRICS = (
    "RequestCount",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_5XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "TargetResponseTime",
    "HealthyHostCount",
    "UnHealthyHostCount",
)
LB_ONLY_METRICS = (
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
)
TG_ONLY_METRICS = ("HealthyHostCount", "UnHealthyHostCount")
STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
_EXTENDED = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")
_EXPRESSION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\*\s*([A-Za-z]\w*)\s*/\s*([A-Za-z]\w*)\s*$")


class MetricRef(_Model):
    """One metric of an alarm's metric-math expression."""

    metric: Literal[METRICS]  # type: ignore[valid-type]
    target_group: Literal["blue", "green"] | None = None
    statistic: Literal[STATISTICS] = "Sum"  # type: ignore[valid-type]


class AlarmSpec(_Model):
    """A CloudWatch metric alarm on an ALB metric (namespace AWS/ApplicationELB)."""

    name: str = Field(min_length=1, max_length=255)
    metric: Literal[METRICS] | None = None  # type: ignore[valid-type]
    target_group: Literal["blue", "green"] | None = None
    statistic: Literal[STATISTICS] | None = None  # type: ignore[valid-type]
    extended_statistic: str | None = None
    expression: str | None = None
    metrics: dict[str, MetricRef] = Field(default_factory=dict)
    period: Duration = 60.0
    evaluation_periods: int = Field(default=1, ge=1)
    datapoints_to_alarm: int | None = Field(default=None, ge=1)
    threshold: float = 0.0
    comparison: Literal[
        "GreaterThanThreshold",
        "GreaterThanOrEqualToThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    ] = "GreaterThanThreshold"
    treat_missing_data: Literal["missing", "notBreaching", "breaching", "ignore"] = "missing"

    @model_validator(mode="after")
    def _check_alarm(self) -> AlarmSpec:
        p = self.period
        if not (p in (10, 20, 30) or (p >= 60 and p % 60 == 0)):
            raise ValueError("period must be 10s, 20s, 30s or a multiple of 60s")
        if self.datapoints_to_alarm is not None and (
            self.datapoints_to_alarm > self.evaluation_periods
        ):
            raise ValueError("datapoints_to_alarm must be <= evaluation_periods")
        if p * self.evaluation_periods > 604800:
            raise ValueError("period × evaluation_periods must be <= 7 days")
        if p < 3600 and p * self.evaluation_periods > 86400:
            raise ValueError("for periods under 1h, period × evaluation_periods must be <= 1 day")
        if self.expression is not None:
            if self.metric is not None:
                raise ValueError("give either 'metric' or 'expression', not both")
            m = _EXPRESSION.match(self.expression)
            if not m:
                raise ValueError("expression must have the form '100 * A / B'")
            for ident in m.group(2, 3):
                if ident not in self.metrics:
                    raise ValueError(f"expression uses '{ident}', which 'metrics' does not define")
        else:
            if self.metric is None:
                raise ValueError("an alarm needs 'metric' (or 'expression' with 'metrics')")
            if (self.statistic is None) == (self.extended_statistic is None):
                raise ValueError("give exactly one of 'statistic' and 'extended_statistic'")
            if self.extended_statistic is not None and not _EXTENDED.match(self.extended_statistic):
                raise ValueError("extended_statistic must look like p50, p99 or p99.9")
            if self.metric in LB_ONLY_METRICS and self.target_group is not None:
                raise ValueError(f"{self.metric} has no TargetGroup dimension (load balancer only)")
            if self.metric in TG_ONLY_METRICS and self.target_group is None:
                raise ValueError(f"{self.metric} needs a target_group")
        return self

    @property
    def ratio(self) -> tuple[float, str, str]:
        """(factor, A, B) of an ``expression`` alarm: the value is factor * A / B."""
        factor, a, b = _EXPRESSION.match(self.expression).groups()
        return float(factor), a, b

    @property
    def m_of_n(self) -> tuple[int, int]:
        """(datapoints_to_alarm, evaluation_periods), M defaulting to N."""
        return (self.datapoints_to_alarm or self.evaluation_periods, self.evaluation_periods)


# --------------------------------------------------------------------------------------------
# Deployment

CODEDEPLOY_CONFIGS = {
    # name: (type, percentage, interval in minutes)
    "CodeDeployDefault.ECSAllAtOnce": ("AllAtOnce", 100, 0),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("TimeBasedLinear", 10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("TimeBasedLinear", 10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("TimeBasedCanary", 10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("TimeBasedCanary", 10, 15),
}
CODEDEPLOY_HOOKS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
ECS_HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)


class TrafficRouting(_Model):
    """A custom CodeDeploy TrafficRoutingConfig (percentage and interval in whole minutes)."""

    type: Literal["TimeBasedCanary", "TimeBasedLinear", "AllAtOnce"]
    percentage: int | None = Field(default=None, ge=1, le=99)
    interval: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> TrafficRouting:
        if self.type != "AllAtOnce":
            if self.percentage is None or self.interval is None:
                raise ValueError(f"{self.type} needs 'percentage' and 'interval'")
            if self.interval < 60 or self.interval % 60:
                raise ValueError("interval must be a whole number of minutes (>= 1m)")
        return self


class HookSpec(_Model):
    """A lifecycle hook: a test-traffic ``probe``, a ``lambda`` or (ECS) a ``pause``."""

    kind: Literal["probe", "lambda", "pause"] = "lambda"
    # probe
    requests: int = Field(default=50, ge=1, le=1_000_000)
    rate: float = Field(default=10.0, gt=0)
    max_error_rate: Fraction = 0.0
    max_p99: Duration | None = None
    # lambda
    duration: Duration = 5.0
    outcome: Literal["Succeeded", "Failed"] = "Succeeded"
    failure_probability: Fraction | None = None
    # pause: when an operator continues it (None: never, so the timeout decides)
    continue_after: Duration | None = None
    # ECS hooks; CodeDeploy's limit is fixed at 3600 s
    timeout: Duration | None = None
    timeout_action: Literal["ROLLBACK", "CONTINUE"] = "ROLLBACK"


class StepSpec(_Model):
    weight: float = Field(ge=0, le=100)
    pause: Duration = 0.0


class ReadyWait(_Model):
    """CodeDeploy deploymentReadyOption."""

    action_on_timeout: Literal["CONTINUE_DEPLOYMENT", "STOP_DEPLOYMENT"] = "CONTINUE_DEPLOYMENT"
    wait: Duration = 0.0
    continue_at: Duration | None = None

    @model_validator(mode="after")
    def _check(self) -> ReadyWait:
        if self.wait > 120 * 3600:
            raise ValueError("wait must be at most 120 hours")
        return self


def _ecs_shift(percent: float, bake: float, names: tuple[str, str]) -> None:
    """ECS's rules for a shift percentage (multiples of 0.1) and a bake (up to 1440 min)."""
    if abs(percent * 10 - round(percent * 10)) > 1e-9:
        raise ValueError(f"{names[0]} must be a multiple of 0.1")
    if bake > 1440 * 60:
        raise ValueError(f"{names[1]} must be at most 1440 minutes")


class LinearConfig(_Model):
    step_percent: float = Field(default=10.0, ge=3.0, le=100.0)
    step_bake_time: Duration = 360.0

    @model_validator(mode="after")
    def _check(self) -> LinearConfig:
        _ecs_shift(self.step_percent, self.step_bake_time, ("step_percent", "step_bake_time"))
        return self


class CanaryConfig(_Model):
    canary_percent: float = Field(default=5.0, ge=0.1, le=100.0)
    canary_bake_time: Duration = 600.0

    @model_validator(mode="after")
    def _check(self) -> CanaryConfig:
        _ecs_shift(
            self.canary_percent, self.canary_bake_time, ("canary_percent", "canary_bake_time")
        )
        return self


class CircuitBreakerThreshold(_Model):
    type: Literal["COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT"] = "BOUNDED_PERCENT"
    value: int = Field(default=50, ge=1)


class CircuitBreakerSpec(_Model):
    enable: bool = True
    rollback: bool = True
    reset_on_healthy_task: bool = True
    threshold: CircuitBreakerThreshold = Field(default_factory=CircuitBreakerThreshold)


class DeploymentSpec(_Model):
    """Which controller shifts traffic, how, and what may stop it."""

    controller: Literal["none", "codedeploy", "ecs", "steps"] = "none"
    start: Duration = 60.0
    alarms: list[str] = Field(default_factory=list, max_length=10)
    alarm_poll_interval: Duration = 60.0
    hooks: dict[str, HookSpec] = Field(default_factory=dict)
    # CodeDeploy
    config: str | TrafficRouting = "CodeDeployDefault.ECSAllAtOnce"
    termination_wait: Duration = 3600.0
    auto_rollback: list[Literal["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]] = Field(
        default_factory=list
    )
    ready_wait: ReadyWait = Field(default_factory=ReadyWait)
    install_timeout: Duration = 3600.0
    # ECS native
    strategy: Literal["BLUE_GREEN", "LINEAR", "CANARY"] = "BLUE_GREEN"
    linear: LinearConfig = Field(default_factory=LinearConfig)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    bake_time: Duration = 900.0
    circuit_breaker: CircuitBreakerSpec = Field(default_factory=CircuitBreakerSpec)
    alarm_rollback: bool = True
    # steps
    steps: list[StepSpec] = Field(default_factory=list)
    rollback_on_failure: bool = True

    @model_validator(mode="after")
    def _check(self) -> DeploymentSpec:
        if self.termination_wait > 2880 * 60:
            raise ValueError("termination_wait must be at most 2880 minutes")
        if self.bake_time > 1440 * 60:
            raise ValueError("bake_time must be at most 1440 minutes")
        if len(set(self.alarms)) != len(self.alarms):
            raise ValueError("each alarm may be named only once")
        if self.controller == "codedeploy":
            if isinstance(self.config, str) and self.config not in CODEDEPLOY_CONFIGS:
                raise ValueError(
                    f"config: unknown deployment config {self.config!r}; expected one of "
                    f"{', '.join(CODEDEPLOY_CONFIGS)} or a custom "
                    "{type, percentage, interval}"
                )
            allowed: tuple[str, ...] = CODEDEPLOY_HOOKS
        elif self.controller == "ecs":
            allowed = ECS_HOOK_STAGES
        elif self.controller == "steps":
            allowed = ("analysis",)
            if not self.steps:
                raise ValueError("controller 'steps' needs 'steps' (a list of {weight, pause})")
            weights = [s.weight for s in self.steps]
            if weights[-1] != 100:
                raise ValueError("steps: the last step must have weight 100")
        else:
            allowed = ()
        for name, hook in self.hooks.items():
            if name not in allowed:
                raise ValueError(
                    f"hooks.{name}: not a hook of controller '{self.controller}'"
                    + (f"; expected one of {', '.join(allowed)}" if allowed else "")
                )
            if hook.kind == "pause" and self.controller != "ecs":
                raise ValueError("'pause' hooks exist only for controller 'ecs'")
            if hook.kind == "pause" and name in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
                raise ValueError(f"{name} accepts only lambda hooks (AWS rule)")
            if hook.timeout is not None and not 60 <= hook.timeout <= 20160 * 60:
                raise ValueError("hook timeout must be between 1 and 20160 minutes")
        return self

    def traffic_routing(self) -> tuple[str, int, float]:
        """(type, percentage, interval in seconds) of the CodeDeploy configuration."""
        if isinstance(self.config, TrafficRouting):
            c = self.config
            return (c.type, c.percentage or 100, c.interval or 0.0)
        kind, pct, minutes = CODEDEPLOY_CONFIGS[self.config]
        return (kind, pct, minutes * 60.0)


# --------------------------------------------------------------------------------------------
# Top level


class Pricing(_Model):
    """Fargate prices: us-east-1 Linux/x86 list prices by default."""

    vcpu_hour: float = Field(default=0.04048, ge=0)
    gb_hour: float = Field(default=0.004445, ge=0)


class EngineSpec(_Model):
    """How the data plane steps: its window (s) is also the control-plane resolution."""

    window: Duration = 1.0

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if not 0.01 <= v <= 10:
            raise ValueError("window must be between 10ms and 10s")
        return v


class CloudWatchSpec(_Model):
    """How CloudWatch sees the load balancer's metrics.

    ``publish_delay``: how long after a response its count reaches CloudWatch. AWS documents
    that ALB sends metrics in 60-second intervals but not how long they take to be visible
    to alarms; 0 (the default) makes alarm detection times a lower bound. With a delay, the
    newest period an alarm evaluates is partial or missing, as on AWS.
    """

    publish_delay: Duration = 0.0

    @field_validator("publish_delay")
    @classmethod
    def _delay(cls, v: float) -> float:
        if v > 600:
            raise ValueError("publish_delay must be at most 10m")
        return v


class Scenario(_Model):
    """A whole scenario file. Every field has a default."""

    name: str = "scenario"
    description: str = ""
    duration: Duration = 1800.0
    seed: int | None = Field(default=None, ge=0)
    load: LoadSpec = Field(default_factory=LoadSpec)
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    blue: RevisionSpec = Field(default_factory=RevisionSpec)
    green: RevisionSpec = Field(default_factory=RevisionSpec)
    faults: list[FaultSpec] = Field(default_factory=list)
    load_balancer: LoadBalancerSpec = Field(default_factory=LoadBalancerSpec)
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    alarms: list[AlarmSpec] = Field(default_factory=list)
    pricing: Pricing = Field(default_factory=Pricing)
    cloudwatch: CloudWatchSpec = Field(default_factory=CloudWatchSpec)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    # Where relative paths (trace, empirical CSVs) are resolved; set by load_scenario.
    base_dir: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if not 0 < self.duration <= 7 * 86400:
            raise ValueError("duration must be > 0 and at most 7 days")
        names = [a.name for a in self.alarms]
        if len(set(names)) != len(names):
            raise ValueError("alarm names must be unique")
        for name in self.deployment.alarms:
            if name not in names:
                raise ValueError(
                    f"deployment.alarms: names {name!r}, which 'alarms' does not define"
                )
        dep = self.deployment
        if (
            dep.controller == "codedeploy"
            and self.load_balancer.type == "network"
            and dep.traffic_routing()[0] != "AllAtOnce"
        ):
            raise ValueError(
                "deployment.config: with a Network Load Balancer CodeDeploy supports only "
                "CodeDeployDefault.ECSAllAtOnce (AWS rule)"
            )
        return self

    def revision(self, name: str) -> ServiceSpec:
        """The full task spec of revision ``blue`` or ``green``: service defaults + overrides."""
        rev = self.blue if name == "blue" else self.green
        overrides = {k: v for k, v in rev.model_dump().items() if v is not None}
        return self.service.model_copy(update={k: getattr(rev, k) for k in overrides})


# --------------------------------------------------------------------------------------------
# Loading, errors, overrides


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` is one line: file, field, what was expected."""

    def __init__(self, source: str, field: str | None, message: str):
        self.source, self.field, self.message = source, field, message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


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
            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ScenarioError(
                str(path), None, "expected a .yaml, .yml, .toml or .json scenario file"
            )
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
    if token.split(".")[0] not in _FIELD_NAMES or path.endswith(token):
        return path, message  # not a field, or a field validator's error, already in place
    where = token if path == "(top level)" else f"{path}.{token}"
    return where, (rest if head.endswith(":") else message)


def scenario_from_dict(
    raw: dict[str, Any], source: str = "<scenario>", base_dir: str | None = None
) -> Scenario:
    """Validate plain data into a :class:`Scenario`, raising :class:`ScenarioError`."""
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

"""The workload: distributions, request load, the service's tasks and the two revisions."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from .durations import Z99, Duration, Fraction, _Model


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


def _connection_lifetime_default() -> Distribution:
    return Distribution(distribution="exponential", mean=600.0)


class ConnectionsSpec(_Model):
    """Clients on long-lived connections (WebSocket, gRPC streams, HTTP keep-alive).

    ``count`` connections are open from the start, each pinned to the target its handshake
    reached. One ends after its ``lifetime`` and the client reconnects at once; one whose target
    is deregistered and stopped is dropped, and its client reconnects uniformly within
    ``reconnect_jitter``. Each (re)connection is a handshake request through the load balancer.
    """

    count: int = Field(default=0, ge=0, le=1_000_000)
    lifetime: Distribution = Field(default_factory=_connection_lifetime_default)
    reconnect_jitter: Duration = 5.0

    @model_validator(mode="after")
    def _check(self) -> ConnectionsSpec:
        if self.reconnect_jitter > 3600:
            raise ValueError("reconnect_jitter must be at most 3600s")
        if self.lifetime.distribution != "empirical" and self.lifetime.mean_seconds() < 1.0:
            raise ValueError("connection lifetime: the mean must be at least 1s")
        return self


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
    # The client population: each request comes from one client, drawn uniformly at random.
    # None: requests are not told apart (each is split by the weights on its own). Needed by
    # target-group stickiness, which is per client.
    clients: int | None = Field(default=None, ge=1, le=10_000_000)
    # long-lived connections; their handshakes come on top of ``rps``
    connections: ConnectionsSpec = Field(default_factory=ConnectionsSpec)

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
    concurrency: int = Field(default=10, ge=1, le=10_000)
    latency: Distribution = Field(default_factory=_latency_default)
    error_rate: Fraction = 0.0
    startup: Distribution = Field(default_factory=_startup_default)
    # After RUNNING, the application needs this long before it answers (health checks and
    # requests are refused until then). 0: it answers the moment the task runs.
    app_start: Duration = 0.0
    # Container stopTimeout: SIGTERM, then SIGKILL this long after (Fargate: 2-120 s, default 30).
    stop_timeout: Duration = 30.0
    # The ECS service's deploymentConfiguration (BC DeploymentConfiguration): the tasks kept
    # RUNNING (rounded up) and the most tasks RUNNING or PENDING (rounded down), in percent of
    # the desired count. ECS defaults 100 / 200.
    minimum_healthy_percent: int = Field(default=100, ge=0, le=100)
    maximum_percent: int = Field(default=200, ge=100, le=200)
    # healthCheckGracePeriodSeconds: ECS ignores failing load-balancer health checks of a task
    # this long after it started (default 0).
    health_check_grace_period: Duration = 0.0

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, v: float) -> float:
        if v not in FARGATE_CPU:
            raise ValueError(f"Fargate task cpu (vCPU) must be one of {FARGATE_CPU}")
        return v

    @model_validator(mode="after")
    def _check_ecs_ranges(self) -> ServiceSpec:
        _stop_timeout(self.stop_timeout)
        if self.health_check_grace_period > 2_147_483_647:
            raise ValueError("health_check_grace_period must be at most 2147483647s")
        return self


def _stop_timeout(value: float | None) -> None:
    if value is not None and not 2 <= value <= 120:
        raise ValueError("stop_timeout must be between 2s and 120s (Fargate)")


class RevisionSpec(_Model):
    """Per-revision overrides of :class:`ServiceSpec`; unset fields inherit from ``service``."""

    tasks: int | None = Field(default=None, ge=1, le=5000)
    cpu: float | None = None
    memory: float | None = Field(default=None, ge=0.5, le=120)
    concurrency: int | None = Field(default=None, ge=1, le=10_000)
    latency: Distribution | None = None
    error_rate: Fraction | None = None
    startup: Distribution | None = None
    app_start: Duration | None = None
    stop_timeout: Duration | None = None

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, v: float | None) -> float | None:
        if v is not None and v not in FARGATE_CPU:
            raise ValueError(f"Fargate task cpu (vCPU) must be one of {FARGATE_CPU}")
        return v

    @model_validator(mode="after")
    def _check_stop_timeout(self) -> RevisionSpec:
        _stop_timeout(self.stop_timeout)
        return self


# --------------------------------------------------------------------------------------------
# Load balancer

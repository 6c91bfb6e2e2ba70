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
    concurrency: int = Field(default=10, ge=1, le=10_000)
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

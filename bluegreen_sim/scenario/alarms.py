"""CloudWatch: ALB metrics, statistics, metric alarms and the CloudWatch settings."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from .durations import Duration, _Model

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

"""The load balancer: target-group health checks, routing, draining, slow start."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from .durations import Duration, _Model


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

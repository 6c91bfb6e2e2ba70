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
    # Passing checks a new target needs before it is healthy. null (the default) follows
    # healthy_threshold, as ECS's guides and the current API say; the older ALB guide's "must
    # pass one health check" is initial_checks: 1 (AWS_FACTS C4, Corrections 3).
    initial_checks: int | None = Field(default=None, ge=1, le=10)
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

    @property
    def initial_checks_required(self) -> int:
        """Passing checks that make a new target healthy (``initial_checks`` or the threshold)."""
        return self.initial_checks if self.initial_checks is not None else self.healthy_threshold


class LoadBalancerSpec(_Model):
    """The Application Load Balancer (or a Network Load Balancer, for the AllAtOnce rule)."""

    type: Literal["application", "network"] = "application"
    routing: Literal["round_robin", "least_outstanding_requests", "weighted_random"] = "round_robin"
    deregistration_delay: Duration = 300.0
    # How clients use their connections. keep_alive (the default): they hold them open, so a
    # deregistering target keeps active connections and drains for the full delay; close: each
    # request closes its connection, so the deregistration ends once in-flight requests finish.
    client_connections: Literal["keep_alive", "close"] = "keep_alive"
    slow_start: Duration = 0.0
    idle_timeout: Duration = 60.0
    health_check: HealthCheckSpec = Field(default_factory=HealthCheckSpec)
    test_listener: bool = False
    # The forward action's target-group stickiness (TargetGroupStickinessConfig): 0 off, else
    # the AWSALBTG cookie's duration, 1 s - 7 days. Needs load.clients.
    target_group_stickiness: Duration = 0.0
    # Automatic target weights' anomaly mitigation (weighted_random routing only; off by
    # default, as on AWS): see bluegreen_sim.aws.anomaly.
    anomaly_mitigation: bool = False
    # Seconds before a listener (weight) change takes effect on every load-balancer node. AWS
    # documents none: 0 keeps a weight change and its targets consistent by construction.
    listener_change_delay: Duration = 0.0

    @model_validator(mode="after")
    def _check_ranges(self) -> LoadBalancerSpec:
        if self.deregistration_delay > 3600:
            raise ValueError("deregistration_delay must be between 0s and 3600s")
        if self.slow_start != 0 and not 30 <= self.slow_start <= 900:
            raise ValueError("slow_start must be 0 (off) or between 30s and 900s")
        if self.slow_start and self.routing == "least_outstanding_requests":
            raise ValueError("slow_start cannot be combined with least_outstanding_requests")
        if self.target_group_stickiness and not 1 <= self.target_group_stickiness <= 604800:
            raise ValueError("target_group_stickiness must be 0 (off) or between 1s and 7 days")
        if self.anomaly_mitigation and self.routing != "weighted_random":
            raise ValueError("anomaly_mitigation needs routing: weighted_random (AWS rule)")
        if self.slow_start and self.routing == "weighted_random":
            raise ValueError("slow_start cannot be combined with weighted_random (AWS rule)")
        if self.listener_change_delay > 600:
            raise ValueError("listener_change_delay must be between 0s and 600s")
        if not 1 <= self.idle_timeout <= 4000:
            raise ValueError("idle_timeout must be between 1s and 4000s")
        return self


# --------------------------------------------------------------------------------------------
# Faults

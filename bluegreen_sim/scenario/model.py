"""The whole scenario: every section together, with the checks that span sections."""

from __future__ import annotations

import math

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from .alarms import AlarmSpec, CloudWatchSpec
from .deployment import DeploymentSpec
from .durations import Duration, _Model
from .faults import FaultSpec
from .load_balancer import LoadBalancerSpec
from .workload import LoadSpec, RevisionSpec, ServiceSpec


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
        if self.load_balancer.target_group_stickiness and self.load.clients is None:
            raise ValueError(
                "load_balancer.target_group_stickiness: needs load.clients (stickiness is per "
                "client: how many clients send the load)"
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
        if dep.controller == "ecs" and dep.strategy == "ROLLING":
            _check_rolling_bounds(self)
        return self

    def revision(self, name: str) -> ServiceSpec:
        """The full task spec of revision ``blue`` or ``green``: service defaults + overrides."""
        if name not in ("blue", "green"):
            raise ValueError(f"revision must be 'blue' or 'green', not {name!r}")
        rev = self.blue if name == "blue" else self.green
        overrides = {k: v for k, v in rev.model_dump().items() if v is not None}
        return self.service.model_copy(update={k: getattr(rev, k) for k in overrides})


def _check_rolling_bounds(sc: Scenario) -> None:
    """A rolling update must be able to start or stop at least one task."""
    blue = sc.revision("blue")
    n = blue.tasks
    floor_healthy = math.ceil(n * blue.minimum_healthy_percent / 100 - 1e-9)
    ceiling = math.floor(n * blue.maximum_percent / 100 + 1e-9)
    if ceiling <= n and floor_healthy >= n:
        raise ValueError(
            "service: a rolling update needs maximum_percent above 100 or "
            "minimum_healthy_percent below 100 (ECS could neither start nor stop a task)"
        )


# --------------------------------------------------------------------------------------------
# Loading, errors, overrides

"""What goes wrong, and when: fault kinds, anchors and their parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from .durations import Duration, Fraction, _Model
from .workload import Distribution

FAULT_KINDS = (
    "error_rate",
    "latency",
    "crash",
    "crash_loop",
    "health_check",
    "slow_leak",
    "load_dependent",
    "dependency_outage",
    "listener_reset",
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
    # listener_reset: an outside change (infrastructure as code) sets the production listener
    # rule back to the template's weights: green's weight in percent (0: all to blue).
    green_weight: float = Field(default=0.0, ge=0.0, le=100.0)

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

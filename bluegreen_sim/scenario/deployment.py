"""The deployment: CodeDeploy configurations and hooks, ECS-native strategies, steps."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from .durations import Duration, Fraction, _Model

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
    # documented: a task counts as failed when it stops before it was ever healthy (cannot
    # start, never RUNNING, or fails its health checks and is stopped); a task that was healthy
    # and then stops does not count. every_stop: every crash or unhealthy stop counts.
    counting: Literal["documented", "every_stop"] = "documented"
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
    # How ECS replaces an unhealthy task of a task set (blue or green) under the codedeploy and
    # steps controllers. AWS announced replacement-first for every unhealthy task (What's New
    # 2023-10-23) but says maximumPercent "is not used" for CODE_DEPLOY task sets: the default
    # replaces first within the service's maximum_percent; stop_first is the older behaviour.
    task_set_replacement: Literal["replace_first", "stop_first"] = "replace_first"
    # ECS native
    strategy: Literal["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"] = "BLUE_GREEN"
    linear: LinearConfig = Field(default_factory=LinearConfig)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    # None: AWS's default for the strategy, 15 min for BLUE_GREEN, LINEAR and CANARY, none for
    # ROLLING ("For rolling deployments, there is no bake time set by default"); see bake_seconds
    bake_time: Duration | None = None
    circuit_breaker: CircuitBreakerSpec = Field(default_factory=CircuitBreakerSpec)
    alarm_rollback: bool = True
    # steps
    steps: list[StepSpec] = Field(default_factory=list)
    rollback_on_failure: bool = True
    # The race between a weight change and its targets: on a rollback, the seconds
    # between scaling green down and moving production traffic back to blue (0: same instant).
    rollback_reroute_delay: Duration = 0.0

    @model_validator(mode="after")
    def _check(self) -> DeploymentSpec:
        if self.termination_wait > 2880 * 60:
            raise ValueError("termination_wait must be at most 2880 minutes")
        if self.bake_time is not None and self.bake_time > 1440 * 60:
            raise ValueError("bake_time must be at most 1440 minutes")
        if self.rollback_reroute_delay > 3600:
            raise ValueError("rollback_reroute_delay must be at most 3600s")
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
            # Lifecycle hooks belong to the blue/green-style strategies; a rolling update has none.
            allowed = () if self.strategy == "ROLLING" else ECS_HOOK_STAGES
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

    @property
    def bake_seconds(self) -> float:
        """The ECS bake time in force: ``bake_time``, or AWS's default for the strategy."""
        if self.bake_time is not None:
            return self.bake_time
        return 0.0 if self.strategy == "ROLLING" else 900.0

    def traffic_routing(self) -> tuple[str, int, float]:
        """(type, percentage, interval in seconds) of the CodeDeploy configuration."""
        if isinstance(self.config, TrafficRouting):
            c = self.config
            return (c.type, c.percentage or 100, c.interval or 0.0)
        kind, pct, minutes = CODEDEPLOY_CONFIGS[self.config]
        return (kind, pct, minutes * 60.0)


# --------------------------------------------------------------------------------------------
# Top level

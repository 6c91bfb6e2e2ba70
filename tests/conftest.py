"""Shared scenario builders for the tests.

Many tests build the same small service: exponential service times, a constant start-up and
fast health checks. The builders below write those dicts once; each call still names the
values its test is about (tasks, mean service time, start-up, check interval).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

# The suite does not time itself: a property that takes 300 ms on a loaded machine (a mutation
# run, CI beside other jobs) is not a failure. Tests that set their own settings keep them.
settings.register_profile("bluegreen", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bluegreen")


# SPEC §5's summary fields: "names that are part of the contract (users' notebooks and the tests
# rely on them)".
SUMMARY_CONTRACT_KEYS = frozenset(
    {
        "scenario",
        "seed",
        "outcome",
        "deployment_start_s",
        "deployment_end_s",
        "deployment_duration_s",
        "rollback_start_s",
        "time_to_detect_s",
        "requests_total",
        "requests_failed",
        "requests_failed_green",
        "excess_failed",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p99_ms",
        "worst_minute_p99_ms",
        "peak_tasks",
        "vcpu_hours",
        "gb_hours",
        "cost_usd",
        "alarms_fired",
    }
)


def exponential(mean: float) -> dict[str, Any]:
    """Exponential durations (service times) of ``mean`` seconds."""
    return {"distribution": "exponential", "mean": mean}


def constant(value: float) -> dict[str, Any]:
    """A constant duration (start-up, service time) of ``value`` seconds."""
    return {"distribution": "constant", "value": value}


def service(tasks: int, *, mean: float, startup: float, **more: Any) -> dict[str, Any]:
    """The ``service`` section: ``tasks`` tasks, exponential service times of ``mean`` seconds,
    a constant start-up of ``startup`` seconds; ``more`` adds fields (concurrency, cpu...)."""
    return {"tasks": tasks, "latency": exponential(mean), "startup": constant(startup), **more}


def five_xx_alarm(
    name: str, *, threshold: float, target_group: str | None = None, **more: Any
) -> dict[str, Any]:
    """An alarm on the 5XX count of one target group (or, without ``target_group``, the load
    balancer's): the Sum over one minute above ``threshold``, missing data not breaching;
    ``more`` adds or replaces fields."""
    alarm = {"name": name, "metric": "HTTPCode_Target_5XX_Count"}
    if target_group is not None:
        alarm["target_group"] = target_group
    return {
        **alarm,
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 1,
        "threshold": threshold,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
        **more,
    }


def health_checks(interval: float, *, timeout: float = 2, **more: Any) -> dict[str, Any]:
    """``load_balancer.health_check`` probing every ``interval`` seconds (timeout 2 s by
    default); ``more`` adds fields (healthy_threshold, initial_checks...)."""
    return {"interval": interval, "timeout": timeout, **more}

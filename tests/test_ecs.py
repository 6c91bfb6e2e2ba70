"""The ECS-native deployment controller: shift schedules, stages, hooks, monitors, outcomes.

Exact unit tests of the documented rules (circuit-breaker threshold, linear step count, shift
schedule) and small fixed-seed scenarios (50 rps, a few tasks, 20 s start-up, short bakes) that
walk whole deployments through the event log.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bluegreen_sim import simulate
from bluegreen_sim.aws.controllers.ecs import ecs_shift_schedule, linear_step_count
from bluegreen_sim.aws.fargate import circuit_breaker_threshold
from bluegreen_sim.scenario import CanaryConfig, LinearConfig, scenario_from_dict

START = 60.0  # deployment.start in the base scenario
GREEN_READY = 86.0  # 20 s start-up, then two health checks 5 s apart pass (healthy threshold 2)

BASE = {
    "name": "ecs-test",
    "duration": "15m",
    "load": {"rps": 50},
    "service": {
        "tasks": 3,
        "startup": {"distribution": "constant", "value": "20s"},
        "latency": {"distribution": "lognormal", "median": "20ms", "p99": "80ms"},
    },
    "load_balancer": {
        "deregistration_delay": "5s",
        "test_listener": True,
        "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
    },
    "deployment": {"controller": "ecs", "start": "1m", "bake_time": "2m"},
}


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run(extra: dict | None = None, seed: int = 1):
    return simulate(scenario_from_dict(_merge(BASE, extra or {}), "ecs-test"), seed=seed)


def ecs_events(result) -> list[tuple[float, str, str]]:
    """The deployment's events (source ``ecs``, without the scheduler's task events)."""
    ev = result.events
    ev = ev[(ev.source == "ecs") & ~ev.event.str.startswith("task ")]
    return list(zip(ev.time_s, ev.event, ev.detail, strict=True))


def stages(result) -> list[str]:
    names = [e.removesuffix(" started") for _, e, _ in ecs_events(result) if e.endswith(" started")]
    return [n for n in names if n.isupper()]  # the lifecycle stages, not "deployment started"


def stage_time(result, name: str, nth: int = 0) -> float:
    return [t for t, e, _ in ecs_events(result) if e == f"{name} started"][nth]


def event_time(result, source: str, event: str) -> float:
    ev = result.events
    hit = ev[(ev.source == source) & (ev.event == event)]
    assert len(hit), f"no {source} event {event!r}"
    return float(hit.time_s.iloc[0])


def weight_changes(result) -> list[tuple[float, float]]:
    """(time, green weight) wherever the timeline's weight changes."""
    tl = result.timeline
    w = tl.green_weight.to_numpy()
    idx = np.flatnonzero(np.diff(w)) + 1
    return [(float(tl.time_s.iloc[i]), float(w[i])) for i in idx]


# --------------------------------------------------------------------------------------------
# Circuit-breaker threshold


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (6, 3), (25, 13), (400, 200)])
def test_circuit_breaker_default_threshold(desired, threshold):
    assert circuit_breaker_threshold(desired) == threshold
    assert circuit_breaker_threshold(desired, "BOUNDED_PERCENT", 50) == threshold


def test_circuit_breaker_count_and_unbounded_percent():
    assert circuit_breaker_threshold(400, "COUNT", 7) == 7
    assert circuit_breaker_threshold(1, "COUNT", 1) == 1
    # No bounds: below 3 and above 200 are allowed, rounded up.
    assert circuit_breaker_threshold(1, "UNBOUNDED_PERCENT", 50) == 1
    assert circuit_breaker_threshold(1000, "UNBOUNDED_PERCENT", 50) == 500
    assert circuit_breaker_threshold(25, "UNBOUNDED_PERCENT", 10) == 3
    assert circuit_breaker_threshold(25, "BOUNDED_PERCENT", 10) == 3  # lower bound
    assert circuit_breaker_threshold(25, "BOUNDED_PERCENT", 90) == 23


def test_run_uses_the_threshold_of_the_desired_count():
    result = run({"service": {"tasks": 6}, "duration": "3m"})
    detail = next(d for _, e, d in ecs_events(result) if e == "circuit breaker MONITORING")
    assert detail.startswith("failed-task threshold 3 ")
    result = run(
        {
            "duration": "3m",
            "deployment": {"circuit_breaker": {"threshold": {"type": "COUNT", "value": 9}}},
        }
    )
    detail = next(d for _, e, d in ecs_events(result) if e == "circuit breaker MONITORING")
    assert detail.startswith("failed-task threshold 9 ")


# --------------------------------------------------------------------------------------------
# Linear step count and the shift schedule


@pytest.mark.parametrize(
    ("step", "bakes"), [(11, 9), (50, 1), (10, 9), (100, 0), (3, 33), (33.3, 3), (12.5, 7)]
)
def test_linear_step_count(step, bakes):
    assert linear_step_count(step) == bakes


def test_linear_step_count_matches_schedule_for_every_allowed_step():
    for tenths in range(30, 1001):
        step = tenths / 10
        schedule = ecs_shift_schedule("LINEAR", LinearConfig(step_percent=step))
        # One step bake between consecutive shifts; none after 100 %.
        assert len(schedule) - 1 == linear_step_count(step), step
        assert schedule[-1][1] == 100.0
        weights = [w for _, w in schedule]
        assert all(b > a for a, b in zip(weights, weights[1:], strict=False)), step


def test_schedules():
    minute = 60.0
    assert ecs_shift_schedule("BLUE_GREEN") == [(0.0, 100.0)]
    assert ecs_shift_schedule("LINEAR", LinearConfig(step_percent=30, step_bake_time=minute)) == [
        (0.0, 30.0),
        (60.0, 60.0),
        (120.0, 90.0),
        (180.0, 100.0),
    ]
    assert ecs_shift_schedule("LINEAR", LinearConfig(step_percent=50, step_bake_time=300)) == [
        (0.0, 50.0),
        (300.0, 100.0),
    ]
    assert ecs_shift_schedule("LINEAR", LinearConfig(step_percent=100)) == [(0.0, 100.0)]
    # Fractional steps stay exact tenths: 33.3, 66.6, 99.9, then the 0.1 % remainder.
    assert ecs_shift_schedule("LINEAR", LinearConfig(step_percent=33.3, step_bake_time=10)) == [
        (0.0, 33.3),
        (10.0, 66.6),
        (20.0, 99.9),
        (30.0, 100.0),
    ]
    # Defaults: 10 % every 6 minutes → 10 shifts, 9 bakes, 100 % at 54 minutes.
    default = ecs_shift_schedule("LINEAR", LinearConfig())
    assert len(default) == 10 and default[-1] == (54 * minute, 100.0)
    assert ecs_shift_schedule("CANARY", canary=CanaryConfig()) == [(0.0, 5.0), (600.0, 100.0)]
    assert ecs_shift_schedule(
        "CANARY", canary=CanaryConfig(canary_percent=0.1, canary_bake_time=120)
    ) == [(0.0, 0.1), (120.0, 100.0)]
    assert ecs_shift_schedule("CANARY", canary=CanaryConfig(canary_percent=100)) == [(0.0, 100.0)]
    with pytest.raises(ValueError):
        ecs_shift_schedule("ROLLING")


@pytest.mark.parametrize(
    "deployment",
    [
        {"strategy": "LINEAR", "linear": {"step_percent": 30, "step_bake_time": "1m"}},
        {"strategy": "CANARY", "canary": {"canary_percent": 2.5, "canary_bake_time": "90s"}},
        {"strategy": "BLUE_GREEN"},
    ],
)
def test_run_follows_the_schedule(deployment):
    result = run({"deployment": deployment})
    scenario = result.scenario.deployment
    expected = ecs_shift_schedule(scenario.strategy, scenario.linear, scenario.canary)
    changes = weight_changes(result)
    first = changes[0][0]
    assert first == GREEN_READY  # no hooks: the first shift follows SCALE_UP at once
    assert [(t - first, w) for t, w in changes] == expected
    assert result.summary["outcome"] == "SUCCEEDED"


# --------------------------------------------------------------------------------------------
# Stage order


def test_stage_order_linear():
    hooks = {
        "PRE_PRODUCTION_TRAFFIC_SHIFT": {"kind": "lambda", "duration": "2s"},
        "PRODUCTION_TRAFFIC_SHIFT": {"kind": "lambda", "duration": "3s"},
    }
    result = run(
        {
            "deployment": {
                "strategy": "LINEAR",
                "linear": {"step_percent": 30, "step_bake_time": "1m"},
                "hooks": hooks,
            }
        }
    )
    step = ["PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]
    assert stages(result) == [
        "RECONCILE_SERVICE",
        "PRE_SCALE_UP",
        "SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        *step * 4,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ]
    ev = result.events
    hooks_run = list(ev[ev.source == "hook"].event)
    assert hooks_run.count("PRE_PRODUCTION_TRAFFIC_SHIFT succeeded") == 4
    assert hooks_run.count("PRODUCTION_TRAFFIC_SHIFT succeeded") == 4
    # Each step: the pre-shift hook (2 s), the shift, the shift hook (3 s), the step bake (60 s).
    shifts = [t for t, _ in weight_changes(result)]
    assert np.diff(shifts).tolist() == [65.0, 65.0, 65.0]
    assert shifts[0] == GREEN_READY + 2
    assert stage_time(result, "BAKE_TIME") == shifts[-1] + 3
    assert stage_time(result, "CLEAN_UP") == stage_time(result, "BAKE_TIME") + 120
    assert result.summary["outcome"] == "SUCCEEDED"


# --------------------------------------------------------------------------------------------
# Hooks


def test_pause_hook_continued_by_operator():
    hooks = {"POST_SCALE_UP": {"kind": "pause", "continue_after": "90s"}}
    result = run({"deployment": {"hooks": hooks}})
    assert stage_time(result, "TEST_TRAFFIC_SHIFT") - stage_time(result, "POST_SCALE_UP") == 90
    assert result.summary["outcome"] == "SUCCEEDED"


@pytest.mark.parametrize("action", ["ROLLBACK", "CONTINUE"])
def test_pause_hook_timeout(action):
    hooks = {
        "POST_TEST_TRAFFIC_SHIFT": {"kind": "pause", "timeout": "2m", "timeout_action": action}
    }
    result = run({"deployment": {"hooks": hooks}})
    paused = stage_time(result, "POST_TEST_TRAFFIC_SHIFT")
    assert event_time(result, "hook", "POST_TEST_TRAFFIC_SHIFT timedout") == paused + 120
    summary = result.summary
    if action == "ROLLBACK":
        assert summary["outcome"] == "ROLLED_BACK"
        assert summary["rollback_start_s"] == paused + 120
        assert "POST_TEST_TRAFFIC_SHIFT hook timedout" in summary["outcome_reason"]
        assert "PRE_PRODUCTION_TRAFFIC_SHIFT" not in stages(result)
        assert result.timeline.green_weight.max() == 0
        assert result.timeline.running_green.iloc[-1] == 0
    else:
        assert summary["outcome"] == "SUCCEEDED"
        assert stage_time(result, "PRE_PRODUCTION_TRAFFIC_SHIFT") == paused + 120
        assert result.timeline.green_weight.iloc[-1] == 100


def test_failed_lambda_rolls_back():
    hooks = {
        "POST_PRODUCTION_TRAFFIC_SHIFT": {"kind": "lambda", "duration": "10s", "outcome": "Failed"}
    }
    result = run({"deployment": {"hooks": hooks}})
    shifted = stage_time(result, "POST_PRODUCTION_TRAFFIC_SHIFT")
    summary = result.summary
    assert summary["outcome"] == "ROLLED_BACK"
    assert summary["rollback_start_s"] == shifted + 10
    assert summary["outcome_reason"] == "POST_PRODUCTION_TRAFFIC_SHIFT hook failed"
    assert "BAKE_TIME" not in stages(result)
    # Traffic had reached green and went back to blue at once.
    assert weight_changes(result) == [(GREEN_READY, 100.0), (shifted + 10, 0.0)]
    assert result.timeline.running_blue.iloc[-1] == 3
    assert result.timeline.running_green.iloc[-1] == 0


def test_failed_probe_on_test_traffic_rolls_back_before_production():
    hooks = {"POST_TEST_TRAFFIC_SHIFT": {"kind": "probe", "requests": 40, "rate": 20}}
    result = run({"green": {"error_rate": 0.5}, "deployment": {"hooks": hooks}})
    assert result.summary["outcome"] == "ROLLED_BACK"
    assert result.summary["requests_green"] == 0  # no production request ever reached green
    assert result.summary["test_requests"] == 40


# --------------------------------------------------------------------------------------------
# Deployment alarms

BLUE_BUSY_ALARM = {
    # Always true: blue serves ~3000 requests a minute. In ALARM from the first evaluation on.
    "name": "blue-requests",
    "metric": "RequestCount",
    "target_group": "blue",
    "statistic": "Sum",
    "period": "60s",
    "evaluation_periods": 1,
    "threshold": 1e9,
    "comparison": "LessThanThreshold",
    "treat_missing_data": "breaching",
}


@pytest.mark.parametrize("start", ["3m", "0s"])
def test_alarm_in_alarm_at_start_is_not_monitored(start):
    result = run(
        {"alarms": [BLUE_BUSY_ALARM], "deployment": {"start": start, "alarms": ["blue-requests"]}}
    )
    history = result.alarms
    went_off = history[(history.alarm == "blue-requests") & (history.new_state == "ALARM")]
    deployment_start = result.summary["deployment_start_s"]
    if start == "3m":
        # In ALARM before the deployment starts, and still in ALARM throughout it.
        assert went_off.time_s.iloc[0] < deployment_start
        assert len(history) == 1
        assert "alarms not monitored" in [e for _, e, _ in ecs_events(result)]
        assert result.summary["outcome"] == "SUCCEEDED"
    else:
        # The same alarm going off after the start is monitored and rolls the deployment back.
        assert went_off.time_s.iloc[0] > deployment_start
        assert "alarms MONITORING" in [e for _, e, _ in ecs_events(result)]
        assert result.summary["outcome"] == "ROLLED_BACK"
        assert result.summary["outcome_reason"] == "alarm blue-requests in ALARM"


GREEN_5XX_ALARM = {
    "name": "green-5xx",
    "metric": "HTTPCode_Target_5XX_Count",
    "target_group": "green",
    "statistic": "Sum",
    "period": "60s",
    "evaluation_periods": 1,
    "threshold": 5,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


@pytest.mark.parametrize("rollback", [True, False])
def test_bad_green_caught_by_alarm_during_canary_bake(rollback):
    result = run(
        {
            "green": {"error_rate": 0.2},
            "alarms": [GREEN_5XX_ALARM],
            "deployment": {
                "strategy": "CANARY",
                "canary": {"canary_percent": 10, "canary_bake_time": "5m"},
                "alarms": ["green-5xx"],
                "alarm_rollback": rollback,
            },
        }
    )
    summary = result.summary
    canary_at = GREEN_READY
    events = [e for _, e, _ in ecs_events(result)]
    tail = events[events.index("PRODUCTION_TRAFFIC_SHIFT started") :]
    if rollback:
        assert tail == [
            "PRODUCTION_TRAFFIC_SHIFT started",
            "step bake",
            "alarm detected",
            "ROLLBACK_REQUESTED",
            "rollback started",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_SUCCESSFUL",
            "deployment rolled back",
        ]
        assert summary["outcome"] == "ROLLED_BACK"
        assert weight_changes(result) == [(canary_at, 10.0), (summary["rollback_start_s"], 0.0)]
        assert result.timeline.running_green.iloc[-1] == 0
    else:
        assert tail == [
            "PRODUCTION_TRAFFIC_SHIFT started",
            "step bake",
            "alarm detected",
            "no rollback",
            "deployment failed",
        ]
        assert summary["outcome"] == "FAILED"
        assert summary["rollback_start_s"] is None
        # Components stay as they are: the canary keeps its 10 %.
        assert weight_changes(result) == [(canary_at, 10.0)]
        assert result.timeline.running_green.iloc[-1] == 3
    assert summary["outcome_reason"] == "alarm green-5xx in ALARM"
    assert summary["alarms_fired"] == ["green-5xx"]
    stopped = event_time(result, "ecs", "alarm detected")
    assert canary_at < stopped < canary_at + 300  # inside the canary bake
    # Detection: first bad request, then a minute's datapoint, then up to one alarm poll.
    assert 0 < summary["time_to_detect_s"] <= 180
    assert summary["time_to_detect_s"] == stopped - summary["first_faulty_green_request_s"]


def test_alarm_rolls_back_during_a_paused_hook():
    # Nobody continues the pause (timeout 24 h): the alarm ends the deployment meanwhile.
    result = run(
        {
            "green": {"error_rate": 0.2},
            "alarms": [GREEN_5XX_ALARM],
            "deployment": {
                "alarms": ["green-5xx"],
                "hooks": {"POST_PRODUCTION_TRAFFIC_SHIFT": {"kind": "pause"}},
            },
        }
    )
    summary = result.summary
    assert summary["outcome"] == "ROLLED_BACK"
    assert stages(result)[-1] == "POST_PRODUCTION_TRAFFIC_SHIFT"
    assert GREEN_READY < summary["rollback_start_s"] <= GREEN_READY + 180
    assert result.timeline.green_weight.iloc[-1] == 0


# --------------------------------------------------------------------------------------------
# Deployment circuit breaker

# Green tasks that exit 5 s after they start; with two initial checks 10 s apart none of them
# ever becomes healthy, so nothing resets the failure count.
CRASH_LOOP = {
    "kind": "crash_loop",
    "revision": "green",
    "uptime": {"distribution": "constant", "value": "5s"},
}
SLOW_FIRST_HEALTH = {"load_balancer": {"health_check": {"interval": "10s", "initial_checks": 2}}}


def test_crash_looping_green_trips_the_circuit_breaker_during_scale_up():
    result = run(_merge(SLOW_FIRST_HEALTH, {"faults": [CRASH_LOOP]}))
    summary = result.summary
    assert summary["outcome"] == "ROLLED_BACK"
    assert summary["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    assert stages(result) == ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP"]
    counts = [d for _, e, d in ecs_events(result) if e == "circuit breaker count"]
    assert [c.split(": ")[1] for c in counts] == ["1/3", "2/3", "3/3"]
    # Three tasks started at 60 s, ran at 80 s and exited at 85 s.
    assert summary["rollback_start_s"] == START + 20 + 5
    assert summary["requests_green"] == 0


def test_crash_loop_after_production_traffic_trips_the_circuit_breaker_in_bake_time():
    fault = {**CRASH_LOOP, "after": "production_traffic"}
    result = run(_merge(SLOW_FIRST_HEALTH, {"faults": [fault]}))
    summary = result.summary
    assert summary["outcome"] == "ROLLED_BACK"
    assert summary["outcome_reason"].startswith("circuit breaker: 3 failed task(s)")
    assert stages(result)[-1] == "BAKE_TIME"
    shifted = weight_changes(result)[0][0]
    # The three green tasks had passed their health checks: their exits at +5 s do not count
    # (documented counting). Their replacements run at +25 s and exit at +30 s, before their
    # second health check: those three count and trip the breaker.
    ignored = [d for _, e, d in ecs_events(result) if e == "circuit breaker ignores"]
    assert len(ignored) == 3
    assert summary["rollback_start_s"] == shifted + 5 + 20 + 5
    assert result.timeline.green_weight.iloc[-1] == 0


def test_circuit_breaker_without_rollback_stops_the_deployment():
    extra = _merge(SLOW_FIRST_HEALTH, {"faults": [CRASH_LOOP]})
    extra["deployment"] = {"circuit_breaker": {"rollback": False}}
    result = run(extra)
    assert result.summary["outcome"] == "FAILED"
    assert result.summary["rollback_start_s"] is None
    # Green is left as it is: ECS keeps replacing its crashing tasks.
    assert result.timeline.running_green.iloc[-60:].max() > 0


def test_disabled_circuit_breaker_lets_scale_up_wait():
    extra = _merge(SLOW_FIRST_HEALTH, {"faults": [CRASH_LOOP], "duration": "5m"})
    extra["deployment"] = {"circuit_breaker": {"enable": False}}
    result = run(extra)
    assert result.summary["outcome"] == "IN_PROGRESS"
    assert stages(result)[-1] == "SCALE_UP"


@pytest.mark.parametrize("reset", [True, False])
def test_healthy_task_resets_the_failure_count(reset):
    # Two rounds of 3 crashes, a minute apart; the replacements become healthy in between.
    crash = {"kind": "crash", "revision": "green", "after": "production_traffic"}
    result = run(
        {
            "faults": [crash, {**crash, "at": "60s"}],
            "deployment": {
                "bake_time": "3m",
                "circuit_breaker": {
                    "reset_on_healthy_task": reset,
                    "threshold": {"type": "COUNT", "value": 4},
                    # these tasks crash after they were healthy: only every_stop counts them
                    "counting": "every_stop",
                },
            },
        }
    )
    if reset:
        assert result.summary["outcome"] == "SUCCEEDED"
        assert "circuit breaker reset" in [e for _, e, _ in ecs_events(result)]
    else:
        assert result.summary["outcome"] == "ROLLED_BACK"
        assert result.summary["outcome_reason"] == "circuit breaker: 4 failed task(s) (threshold 4)"
        assert result.summary["rollback_start_s"] == GREEN_READY + 60


# --------------------------------------------------------------------------------------------
# A healthy green


def test_healthy_green_succeeds():
    result = run({"deployment": {"strategy": "BLUE_GREEN"}})
    summary = result.summary
    tl = result.timeline
    assert summary["outcome"] == "SUCCEEDED"
    assert summary["requests_failed"] == 0
    assert summary["rollback_start_s"] is None
    assert tl.green_weight.iloc[-1] == 100
    assert tl.running_blue.iloc[-1] == 0 and tl.healthy_blue.iloc[-1] == 0
    assert tl.running_green.iloc[-1] == 3
    assert result.events.event.str.contains("deployment succeeded").any()
    # Blue runs through BAKE_TIME and is scaled down at CLEAN_UP, not earlier.
    clean_up = stage_time(result, "CLEAN_UP")
    assert clean_up == stage_time(result, "BAKE_TIME") + 120
    assert tl.running_blue[tl.time_s < clean_up].min() == 3
    assert summary["deployment_end_s"] >= clean_up
    assert summary["deployment_start_s"] == START

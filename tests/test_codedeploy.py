"""Tests of the CodeDeploy (ECS blue/green) controller.

Exact unit tests of the AllowTraffic schedules, then fixed-seed runs of small, fast scenarios
(a few tasks, tens of requests per second, constant 20 s start-up, 5 s health checks) that
check the lifecycle order, the hooks, the ready wait, alarms and rollbacks as the CodeDeploy
user guide describes them.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import five_xx_alarm

from bluegreen_sim.aws.controllers import CONTROLLERS
from bluegreen_sim.aws.controllers.codedeploy import CodeDeployDeployment, shift_schedule
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import CODEDEPLOY_CONFIGS, ScenarioError, scenario_from_dict

START = 60.0  # deployment.start in every scenario here
STARTUP = 20.0  # constant task start-up time
HC_INTERVAL = 5.0
ALL_HOOKS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)


# --------------------------------------------------------------------------------------------
# helpers


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``extra`` merged in (dicts recursively, the rest replaced)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


BASE: dict[str, Any] = {
    "name": "codedeploy-test",
    "duration": "15m",
    "load": {"rps": 50},
    "service": {
        "tasks": 2,
        "startup": {"distribution": "constant", "value": f"{STARTUP:g}s"},
        "latency": {"distribution": "constant", "value": "10ms"},
    },
    "load_balancer": {
        "deregistration_delay": "10s",
        "health_check": {
            "interval": f"{HC_INTERVAL:g}s",
            "timeout": "2s",
            "healthy_threshold": 2,
        },
    },
    "deployment": {
        "controller": "codedeploy",
        "start": f"{START:g}s",
        "config": "CodeDeployDefault.ECSAllAtOnce",
        "termination_wait": "1m",
    },
}

GREEN_5XX = five_xx_alarm("green-5xx", target_group="green", threshold=5)
BOTH = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


def run(extra: dict[str, Any] | None = None, seed: int = 7):
    return simulate(scenario_from_dict(merge(BASE, extra or {}), source="test"), seed=seed)


def controller_events(result) -> pd.DataFrame:
    ev = result.events
    return ev[ev.source == "codedeploy"].reset_index(drop=True)


def event_time(result, event: str, source: str | None = None) -> float:
    """When ``event`` was first logged (fails the test if it never was)."""
    ev = result.events
    rows = ev[(ev.event == event) & ((ev.source == source) if source else True)]
    assert len(rows), f"no event {event!r}; events: {list(ev.event)}"
    return float(rows.time_s.iloc[0])


def has_event(result, event: str) -> bool:
    return bool((result.events.event == event).any())


def stage_sequence(result) -> list[str]:
    """The lifecycle-event lines the controller logged, in order."""
    ev = controller_events(result)
    names = set(LIFECYCLE)
    return [e for e in ev.event if e.split(" ")[0] in names]


def weight_changes(result, origin: float) -> list[tuple[float, float]]:
    """``(second - origin, new green weight)`` for every change of ``timeline.green_weight``."""
    tl = result.timeline
    w = tl.green_weight.to_numpy()
    idx = np.flatnonzero(np.diff(w)) + 1
    changes = [(float(tl.time_s.iloc[i]) - origin, float(w[i])) for i in idx]
    if w[0] != 0:
        changes.insert(0, (float(tl.time_s.iloc[0]) - origin, float(w[0])))
    return changes


# --------------------------------------------------------------------------------------------
# shift schedules (exact)

PREDEFINED = {
    "CodeDeployDefault.ECSAllAtOnce": [(0, 100)],
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": [
        (60 * k, 10 * (k + 1)) for k in range(10)
    ],
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": [
        (180 * k, 10 * (k + 1)) for k in range(10)
    ],
    "CodeDeployDefault.ECSCanary10Percent5Minutes": [(0, 10), (300, 100)],
    "CodeDeployDefault.ECSCanary10Percent15Minutes": [(0, 10), (900, 100)],
}


def test_every_predefined_config_has_an_expected_curve():
    assert set(PREDEFINED) == set(CODEDEPLOY_CONFIGS)


@pytest.mark.parametrize("name", sorted(PREDEFINED))
def test_predefined_schedules(name):
    spec = scenario_from_dict(merge(BASE, {"deployment": {"config": name}})).deployment
    assert shift_schedule(*spec.traffic_routing()) == [
        (float(t), float(p)) for t, p in PREDEFINED[name]
    ]


def test_linear_10_percent_every_minute_reaches_100_after_nine_intervals():
    schedule = shift_schedule("TimeBasedLinear", 10, 60)
    assert schedule[0] == (0.0, 10.0)
    assert schedule[-1] == (540.0, 100.0)
    assert len(schedule) == 10


@pytest.mark.parametrize(
    ("kind", "pct", "interval", "expected"),
    [
        ("AllAtOnce", 0, 0, [(0, 100)]),
        ("AllAtOnce", 40, 600, [(0, 100)]),
        ("TimeBasedCanary", 25, 45 * 60, [(0, 25), (2700, 100)]),
        ("TimeBasedCanary", 1, 60, [(0, 1), (60, 100)]),
        ("TimeBasedCanary", 99, 120, [(0, 99), (120, 100)]),
        ("TimeBasedLinear", 30, 120, [(0, 30), (120, 60), (240, 90), (360, 100)]),
        ("TimeBasedLinear", 50, 60, [(0, 50), (60, 100)]),
        ("TimeBasedLinear", 33, 60, [(0, 33), (60, 66), (120, 99), (180, 100)]),
        ("TimeBasedLinear", 25, 300, [(0, 25), (300, 50), (600, 75), (900, 100)]),
        ("TimeBasedLinear", 99, 60, [(0, 99), (60, 100)]),
        ("TimeBasedLinear", 100, 60, [(0, 100)]),
    ],
)
def test_custom_schedules(kind, pct, interval, expected):
    assert shift_schedule(kind, pct, interval) == [(float(t), float(p)) for t, p in expected]


def test_linear_increment_count_is_ceil_100_over_p():
    for p in range(1, 100):
        schedule = shift_schedule("TimeBasedLinear", p, 60)
        assert len(schedule) == math.ceil(100 / p)
        weights = [w for _, w in schedule]
        assert weights == sorted(weights) and weights[-1] == 100.0
        assert all(b - a <= p for a, b in zip([0.0, *weights], weights, strict=False))


@pytest.mark.parametrize(
    ("kind", "pct"), [("TimeBasedLinear", 0), ("TimeBasedCanary", -5), ("Blue", 10)]
)
def test_bad_schedules_are_refused(kind, pct):
    with pytest.raises(ValueError):
        shift_schedule(kind, pct, 60)


def test_custom_traffic_routing_from_the_scenario():
    dep = {"config": {"type": "TimeBasedCanary", "percentage": 25, "interval": "45m"}}
    spec = scenario_from_dict(merge(BASE, {"deployment": dep})).deployment
    assert spec.traffic_routing() == ("TimeBasedCanary", 25, 2700.0)
    assert shift_schedule(*spec.traffic_routing()) == [(0.0, 25.0), (2700.0, 100.0)]


def test_controller_is_registered():
    assert CONTROLLERS["codedeploy"] is CodeDeployDeployment


# --------------------------------------------------------------------------------------------
# the NLB rule


def test_network_load_balancer_allows_only_all_at_once():
    raw = merge(
        BASE,
        {
            "load_balancer": {"type": "network"},
            "deployment": {"config": "CodeDeployDefault.ECSCanary10Percent5Minutes"},
        },
    )
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw, source="nlb.yaml")
    message = str(info.value)
    assert message.startswith("nlb.yaml: ")
    assert "Network Load Balancer" in message and "ECSAllAtOnce" in message
    assert "\n" not in message
    # A custom canary is refused too; AllAtOnce (predefined or custom) is accepted.
    custom = merge(
        raw,
        {"deployment": {"config": {"type": "TimeBasedLinear", "percentage": 10, "interval": "1m"}}},
    )
    with pytest.raises(ScenarioError):
        scenario_from_dict(custom)
    for ok in ("CodeDeployDefault.ECSAllAtOnce", {"type": "AllAtOnce"}):
        scenario_from_dict(merge(raw, {"deployment": {"config": ok}}))


# --------------------------------------------------------------------------------------------
# the weight-vs-time curve of real runs

RUN_CONFIGS = [
    *PREDEFINED.items(),
    (
        {"type": "TimeBasedLinear", "percentage": 30, "interval": "2m"},
        [(0, 30), (120, 60), (240, 90), (360, 100)],
    ),
    ({"type": "TimeBasedCanary", "percentage": 25, "interval": "3m"}, [(0, 25), (180, 100)]),
    ({"type": "AllAtOnce"}, [(0, 100)]),
]


@pytest.mark.parametrize(("config", "curve"), RUN_CONFIGS, ids=[str(c) for c, _ in RUN_CONFIGS])
def test_run_follows_the_schedule(config, curve):
    schedule = [(float(t), float(p)) for t, p in curve]
    span = schedule[-1][0]
    # Install takes about 21 s; leave room for the 1 min termination wait and a margin.
    extra = {
        "duration": START + 30 + span + 60 + 30,
        "load": {"rps": 10},
        "deployment": {"config": config},
    }
    result = run(extra)
    allow = event_time(result, "AllowTraffic started")
    assert float(allow).is_integer()  # the timeline is per second: the curve must be exact
    assert weight_changes(result, allow) == schedule
    assert result.summary["outcome"] == "SUCCEEDED"
    # AllowTraffic ends with the last shift; then the termination wait.
    assert event_time(result, "AllowTraffic succeeded") == allow + span
    assert result.summary["deployment_end_s"] == pytest.approx(allow + span + 60.0)


# --------------------------------------------------------------------------------------------
# lifecycle order


def test_lifecycle_order_with_every_hook():
    hooks = {name: {"kind": "lambda", "duration": "10s"} for name in ALL_HOOKS}
    result = run(
        {
            "load_balancer": {"test_listener": True},
            "deployment": {
                "hooks": hooks,
                "config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
            },
        }
    )
    expected = [f"{name} {status}" for name in LIFECYCLE for status in ("started", "succeeded")]
    assert stage_sequence(result) == expected
    ev = result.events
    # Each hook ran once, for its 10 s, inside its lifecycle event.
    for name in ALL_HOOKS:
        start = event_time(result, f"{name} started", "codedeploy")
        assert event_time(result, f"{name} started", "hook") == start
        assert event_time(result, f"{name} succeeded", "hook") == start + 10
        assert event_time(result, f"{name} succeeded", "codedeploy") == start + 10
    # Production traffic moves only inside AllowTraffic; test traffic right after Install.
    shifts = ev[ev.event == "production traffic shifted"].time_s
    assert shifts.min() == event_time(result, "AllowTraffic started")
    assert shifts.max() == event_time(result, "AllowTraffic succeeded")
    test_route = event_time(result, "test traffic routed to green")
    assert test_route == event_time(result, "AllowTestTraffic started")
    # After AfterAllowTraffic: termination wait, then blue removed, then success.
    tail = list(controller_events(result).event)[-4:]
    assert tail == [
        "AfterAllowTraffic succeeded",
        "termination wait 1m",
        "blue task set removed",
        "deployment succeeded",
    ]
    end = event_time(result, "AfterAllowTraffic succeeded")
    assert event_time(result, "blue task set removed") == end + 60
    assert result.summary["outcome"] == "SUCCEEDED"
    first = controller_events(result).iloc[0]
    assert first.event == "deployment started"
    assert "CodeDeployDefault.ECSCanary10Percent5Minutes" in first.detail


def test_install_waits_for_healthy_green():
    result = run()
    created = event_time(result, "green task set created")
    installed = event_time(result, "Install succeeded")
    # Running after the start-up time, healthy after one passing check (5 s interval).
    assert created + STARTUP <= installed <= created + STARTUP + HC_INTERVAL + 1
    tl = result.timeline.set_index("time_s")
    assert tl.loc[installed, "healthy_green"] == 2


def test_after_allow_test_traffic_is_skipped_without_a_test_listener():
    # Even a failing hook is ignored: "nothing happens during the AfterAllowTestTraffic hook".
    hooks = {"AfterAllowTestTraffic": {"kind": "lambda", "outcome": "Failed"}}
    result = run({"deployment": {"hooks": hooks, "auto_rollback": BOTH}})
    assert "AfterAllowTestTraffic skipped" in stage_sequence(result)
    assert "AfterAllowTestTraffic started" not in stage_sequence(result)
    detail = controller_events(result).set_index("event").loc["AfterAllowTestTraffic skipped"]
    assert "nothing happens" in detail.detail
    assert not (result.events.source == "hook").any()
    assert result.summary["outcome"] == "SUCCEEDED"


# --------------------------------------------------------------------------------------------
# hooks


@pytest.mark.parametrize("hook", ALL_HOOKS[1:])
def test_failed_hook_rolls_back(hook):
    hooks = {hook: {"kind": "lambda", "duration": "5s", "outcome": "Failed"}}
    result = run(
        {
            "load_balancer": {"test_listener": True},
            "deployment": {"hooks": hooks, "auto_rollback": ["DEPLOYMENT_FAILURE"]},
        }
    )
    seq = stage_sequence(result)
    assert seq[-1] == f"{hook} failed"
    assert result.summary["outcome"] == "ROLLED_BACK"
    failed_at = event_time(result, f"{hook} failed")
    assert result.summary["rollback_start_s"] == failed_at
    assert result.summary["deployment_end_s"] == failed_at
    tl = result.timeline
    assert (tl.green_weight[tl.time_s >= failed_at] == 0).all()
    assert tl.running_green.iloc[-1] == 0  # green removed
    assert tl.running_blue.iloc[-1] == 2  # blue kept
    # Nothing after the failed lifecycle event: no later event, no termination wait.
    later = LIFECYCLE[LIFECYCLE.index(hook) + 1 :]
    assert not any(line.split(" ")[0] in later for line in seq)
    assert not result.events.event.str.startswith("termination wait").any()


def test_failed_hook_without_rollback_leaves_components_as_they_are():
    hooks = {"AfterAllowTraffic": {"kind": "lambda", "duration": "5s", "outcome": "Failed"}}
    result = run({"deployment": {"hooks": hooks}})
    assert result.summary["outcome"] == "FAILED"
    assert result.summary["rollback_start_s"] is None
    assert not has_event(result, "rollback started")
    tl = result.timeline
    assert tl.green_weight.iloc[-1] == 100  # traffic stays on green
    assert tl.running_green.iloc[-1] == 2 and tl.running_blue.iloc[-1] == 2


def test_failed_before_install_cannot_roll_back():
    hooks = {"BeforeInstall": {"kind": "lambda", "duration": "5s", "outcome": "Failed"}}
    result = run({"deployment": {"hooks": hooks, "auto_rollback": BOTH}})
    assert result.summary["outcome"] == "FAILED"
    assert stage_sequence(result) == ["BeforeInstall started", "BeforeInstall failed"]
    assert not has_event(result, "rollback started")
    assert not has_event(result, "green task set created")
    assert "not possible" in result.summary["outcome_reason"]
    assert result.summary["deployment_end_s"] == START + 5


def test_hook_that_does_not_report_within_an_hour_times_out():
    hooks = {"AfterInstall": {"kind": "lambda", "duration": "2h"}}
    result = run(
        {
            "duration": "70m",
            "load": {"rps": 2},
            "deployment": {"hooks": hooks, "auto_rollback": ["DEPLOYMENT_FAILURE"]},
        }
    )
    start = event_time(result, "AfterInstall started", "codedeploy")
    assert event_time(result, "AfterInstall timedout", "hook") == start + 3600
    assert event_time(result, "AfterInstall failed") == start + 3600
    assert result.summary["outcome"] == "ROLLED_BACK"
    assert result.summary["rollback_start_s"] == start + 3600


def test_hook_that_reports_within_an_hour_succeeds():
    hooks = {"BeforeAllowTraffic": {"kind": "lambda", "duration": "59m"}}
    result = run({"duration": "70m", "load": {"rps": 2}, "deployment": {"hooks": hooks}})
    start = event_time(result, "BeforeAllowTraffic started", "codedeploy")
    assert event_time(result, "AllowTraffic started") == start + 59 * 60
    assert result.summary["outcome"] == "SUCCEEDED"


def test_failed_test_traffic_probe_rolls_back_before_any_production_request_reaches_green():
    probe = {"kind": "probe", "requests": 50, "rate": 10, "max_error_rate": 0.0}
    result = run(
        {
            "green": {"error_rate": 0.5},
            "load_balancer": {"test_listener": True},
            "deployment": {
                "hooks": {"AfterAllowTestTraffic": probe},
                "auto_rollback": ["DEPLOYMENT_FAILURE"],
            },
        }
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert stage_sequence(result)[-1] == "AfterAllowTestTraffic failed"
    assert s["requests_green"] == 0
    assert (result.timeline.green_weight == 0).all()
    assert s["test_requests"] == 50 and s["test_requests_failed"] > 0
    detail = result.events.set_index("event").loc["AfterAllowTestTraffic failed", "detail"]
    assert "via the test listener" in str(detail)


def test_passing_test_traffic_probe_lets_the_deployment_go_on():
    probe = {"kind": "probe", "requests": 50, "rate": 10, "max_error_rate": 0.0}
    result = run(
        {
            "load_balancer": {"test_listener": True},
            "deployment": {"hooks": {"AfterAllowTestTraffic": probe}},
        }
    )
    assert result.summary["outcome"] == "SUCCEEDED"
    assert result.summary["test_requests"] == 50
    assert result.summary["test_requests_failed"] == 0
    # 50 requests at 10/s: the hook takes about 5 s before BeforeAllowTraffic starts.
    took = event_time(result, "BeforeAllowTraffic started") - event_time(
        result, "AfterAllowTestTraffic started", "codedeploy"
    )
    assert 4.9 <= took <= 7


# --------------------------------------------------------------------------------------------
# deploymentReadyOption


def ready(**ready_wait):
    return {
        "duration": "20m",
        "load": {"rps": 10},
        "load_balancer": {"test_listener": True},
        "deployment": {"ready_wait": ready_wait},
    }


def test_stop_deployment_without_continue_is_stopped_after_the_wait():
    result = run(ready(action_on_timeout="STOP_DEPLOYMENT", wait="5m"))
    s = result.summary
    assert s["outcome"] == "STOPPED"
    tested = event_time(result, "AfterAllowTestTraffic succeeded")
    assert s["deployment_end_s"] == tested + 300
    assert "BeforeAllowTraffic started" not in stage_sequence(result)
    assert (result.timeline.green_weight == 0).all()
    assert s["requests_green"] == 0


def test_stop_deployment_continued_in_time_succeeds():
    result = run(ready(action_on_timeout="STOP_DEPLOYMENT", wait="10m", continue_at="5m"))
    assert result.summary["outcome"] == "SUCCEEDED"
    assert event_time(result, "deployment continued") == 300
    assert event_time(result, "BeforeAllowTraffic started") == 300
    assert weight_changes(result, 0) == [(300.0, 100.0)]


def test_stop_deployment_continued_too_late_is_stopped():
    result = run(ready(action_on_timeout="STOP_DEPLOYMENT", wait="2m", continue_at="10m"))
    assert result.summary["outcome"] == "STOPPED"
    assert not has_event(result, "deployment continued")
    assert (
        result.summary["deployment_end_s"] == event_time(result, "AllowTestTraffic started") + 120
    )


def test_continue_deployment_goes_on_at_once():
    result = run(ready(action_on_timeout="CONTINUE_DEPLOYMENT", wait="10m"))
    assert event_time(result, "AllowTraffic started") == event_time(
        result, "AfterAllowTestTraffic succeeded"
    )
    assert result.summary["outcome"] == "SUCCEEDED"


# --------------------------------------------------------------------------------------------
# alarms and rollback


def canary(**deployment):
    return {
        "duration": "15m",
        "green": {"error_rate": 0.1},
        "alarms": [GREEN_5XX],
        "deployment": {
            "config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
            "alarms": ["green-5xx"],
            **deployment,
        },
    }


def test_rollback_restores_all_traffic_to_blue_at_once():
    result = run(canary(auto_rollback=BOTH))
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    rollback = s["rollback_start_s"]
    tl = result.timeline
    allow = event_time(result, "AllowTraffic started")
    assert allow < rollback < allow + 300
    assert (tl.green_weight[(tl.time_s >= allow) & (tl.time_s < rollback)] == 10).all()
    assert (tl.green_weight[tl.time_s >= rollback] == 0).all()
    assert (tl.requests_green[tl.time_s >= rollback + 1] == 0).all()
    assert tl.running_green.iloc[-1] == 0 and tl.running_blue.iloc[-1] == 2
    alarm_at = event_time(result, "alarm detected")
    assert rollback == alarm_at


def test_alarm_without_rollback_stops_with_weight_left_where_it_was():
    result = run(canary(auto_rollback=["DEPLOYMENT_FAILURE"]))
    s = result.summary
    assert s["outcome"] == "STOPPED"
    assert s["rollback_start_s"] is None
    assert not has_event(result, "rollback started")
    stopped = s["deployment_end_s"]
    assert "AllowTraffic stopped" in stage_sequence(result)
    tl = result.timeline
    assert (tl.green_weight[tl.time_s >= event_time(result, "AllowTraffic started")] == 10).all()
    assert tl.running_green.iloc[-1] == 2 and tl.running_blue.iloc[-1] == 2
    assert stopped == event_time(result, "alarm detected")
    # The stop is a stop: nothing more happens after it.
    assert controller_events(result).time_s.max() == stopped


def late_fault(at: str, termination_wait: str):
    """A green that goes bad ``at`` after it took all production traffic."""
    return {
        "duration": "15m",
        "alarms": [GREEN_5XX],
        "faults": [
            {
                "kind": "error_rate",
                "revision": "green",
                "after": "full_traffic",
                "at": at,
                "error_rate": 0.3,
            }
        ],
        "deployment": {
            "alarms": ["green-5xx"],
            "auto_rollback": BOTH,
            "termination_wait": termination_wait,
        },
    }


def test_alarm_during_the_termination_wait_still_rolls_back():
    result = run(late_fault("30s", "10m"))
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    wait_start = event_time(result, "termination wait 10m")
    assert wait_start < s["rollback_start_s"] < wait_start + 600
    assert "green-5xx" in s["alarms_fired"]
    assert not has_event(result, "blue task set removed")
    assert "during the termination wait" in s["outcome_reason"]
    tl = result.timeline
    assert (tl.green_weight[tl.time_s >= s["rollback_start_s"]] == 0).all()
    assert tl.green_weight[tl.time_s == s["rollback_start_s"] - 1].item() == 100
    assert tl.running_blue.iloc[-1] == 2 and tl.running_green.iloc[-1] == 0


def test_alarm_after_blue_removal_began_does_not_roll_back():
    result = run(late_fault("90s", "1m"))
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    removed = event_time(result, "blue task set removed")
    assert s["deployment_end_s"] == removed
    assert "green-5xx" in s["alarms_fired"]
    alarm_at = result.alarms[result.alarms.new_state == "ALARM"].time_s.min()
    assert alarm_at > removed
    assert not has_event(result, "rollback started")
    assert not has_event(result, "alarm detected")
    assert s["rollback_start_s"] is None
    assert (result.timeline.green_weight[result.timeline.time_s >= removed] == 100).all()


def test_alarm_during_a_hook_stops_the_deployment_without_waiting_for_the_hook():
    hooks = {"AfterAllowTraffic": {"kind": "lambda", "duration": "30m"}}
    result = run(
        {
            "green": {"error_rate": 0.2},
            "alarms": [GREEN_5XX],
            "deployment": {"alarms": ["green-5xx"], "auto_rollback": BOTH, "hooks": hooks},
        }
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    start = event_time(result, "AfterAllowTraffic started", "codedeploy")
    assert start < s["rollback_start_s"] < start + 180
    assert "AfterAllowTraffic stopped" in stage_sequence(result)
    assert not has_event(result, "AfterAllowTraffic succeeded")


def test_install_timeout_fails_the_deployment():
    never_healthy = [{"kind": "health_check", "revision": "green", "probability": 1.0}]
    extra = {"faults": never_healthy, "deployment": {"install_timeout": "3m"}}
    rolled = run(merge(extra, {"deployment": {"auto_rollback": ["DEPLOYMENT_FAILURE"]}}))
    assert rolled.summary["outcome"] == "ROLLED_BACK"
    assert stage_sequence(rolled) == [
        "BeforeInstall started",
        "BeforeInstall succeeded",
        "Install started",
        "Install failed",
    ]
    install = event_time(rolled, "Install started")
    assert rolled.summary["rollback_start_s"] == install + 180
    assert (rolled.timeline.green_weight == 0).all()
    assert rolled.timeline.running_green.iloc[-1] == 0

    failed = run(extra)
    assert failed.summary["outcome"] == "FAILED"
    assert failed.summary["deployment_end_s"] == install + 180
    assert not has_event(failed, "rollback started")


# --------------------------------------------------------------------------------------------
# end to end


def test_bad_green_is_caught_by_an_alarm_during_the_canary_and_rolled_back():
    result = run(canary(auto_rollback=BOTH), seed=11)
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["time_to_detect_s"] is not None and s["time_to_detect_s"] > 0
    assert s["alarms_fired"] == ["green-5xx"]
    ev = controller_events(result)
    # The base class spells the outcome as it is ("rolled_back"); read it either way.
    ev["event"] = ev.event.str.replace("_", " ")
    seq = [
        e
        for e in ev.event
        if e
        in {
            "deployment started",
            "Install succeeded",
            "AllowTraffic started",
            "alarm detected",
            "AllowTraffic stopped",
            "rollback started",
            "deployment rolled back",
        }
    ]
    assert seq == [
        "deployment started",
        "Install succeeded",
        "AllowTraffic started",
        "alarm detected",
        "AllowTraffic stopped",
        "rollback started",
        "deployment rolled back",
    ]
    # Caught during the 10 % canary: the 100 % shift never happened.
    assert result.timeline.green_weight.max() == 10
    allow = event_time(result, "AllowTraffic started")
    assert allow < s["rollback_start_s"] < allow + 300
    # Detection is measured from the first failed green request to the rollback.
    assert s["first_faulty_green_request_s"] >= allow
    assert s["time_to_detect_s"] == pytest.approx(
        s["rollback_start_s"] - s["first_faulty_green_request_s"]
    )
    assert 0 < s["requests_failed_green"] < s["requests_green"]


def test_healthy_green_succeeds():
    result = run(
        {
            "duration": "15m",
            "alarms": [GREEN_5XX],
            "load_balancer": {"test_listener": True},
            "deployment": {
                "config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
                "termination_wait": "2m",
                "alarms": ["green-5xx"],
                "auto_rollback": BOTH,
            },
        },
        seed=11,
    )
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    assert s["alarms_fired"] == []
    tl = result.timeline
    assert tl.green_weight.iloc[-1] == 100
    assert tl.running_blue.iloc[-1] == 0
    assert tl.running_green.iloc[-1] == 2
    install = event_time(result, "AllowTraffic started") - s["deployment_start_s"]
    assert STARTUP <= install <= STARTUP + HC_INTERVAL + 1
    assert s["deployment_duration_s"] == pytest.approx(install + 300 + 120)
    assert s["requests_failed"] == 0

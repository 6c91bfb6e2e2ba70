"""The race between a weight change and its targets: the 503 windows, counted by arithmetic.

An ALB answers 503 when the target group a request is forwarded to has no registered target
(draining targets are no longer registered); with only unhealthy targets it fails open instead.
So when the weights and the targets disagree, every request forwarded to the empty group in the
window is a 503, no more, no fewer. With evenly spaced arrivals at r requests/s and all the
traffic on the empty group, a window of D seconds holds r × D requests (± 1 at its edges).
"""

from __future__ import annotations

import pytest

from bluegreen_sim import simulate
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict

HC = {"interval": "10s", "timeout": "5s", "healthy_threshold": 3, "unhealthy_threshold": 2}
ALARM = {
    "name": "green-5xx",
    "metric": "HTTPCode_Target_5XX_Count",
    "target_group": "green",
    "statistic": "Sum",
    "period": "60s",
    "evaluation_periods": 1,
    "threshold": 20,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


def _bad_all_at_once(rps: float = 50, **deployment) -> dict:
    """CodeDeploy all at once; green fails 10 %; the alarm rolls back in the termination wait."""
    return {
        "name": "race",
        "duration": "15m",
        "seed": 1,
        "load": {"rps": rps, "arrivals": "uniform"},
        "service": {"tasks": 4},
        "load_balancer": {"deregistration_delay": "30s", "health_check": HC},
        "faults": [
            {"kind": "error_rate", "after": "production_traffic", "error_rate": 0.1},
        ],
        "deployment": {
            "controller": "codedeploy",
            "start": "60s",
            "config": "CodeDeployDefault.ECSAllAtOnce",
            "termination_wait": "10m",
            "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
            "alarms": ["green-5xx"],
            **deployment,
        },
        "alarms": [ALARM],
    }


def _window(result, start: float, length: float):
    req = result.requests
    inside = (req["arrival_s"] >= start) & (req["arrival_s"] < start + length)
    return req[inside], req[~inside]


def test_without_a_delay_a_rollback_opens_no_503_window():
    result = simulate(scenario_from_dict(_bad_all_at_once()))
    assert result.summary["outcome"] == "ROLLED_BACK"
    assert result.summary["requests_503"] == 0


def test_scaling_green_down_before_the_weights_move_back_503s_every_request_in_between():
    result = simulate(
        scenario_from_dict(_bad_all_at_once(rollback_reroute_delay="20s")), record_requests=True
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    inside, outside = _window(result, s["rollback_start_s"], 20)
    # every request of the window was forwarded to green's empty group, and none outside it
    assert (inside["status"] == 503).all()
    assert (outside["status"] != 503).all()
    assert s["requests_503"] == len(inside) == pytest.approx(50 * 20, abs=1)


def test_a_slow_listener_change_opens_the_same_window_on_a_rollback():
    raw = _bad_all_at_once(rps=40)
    raw["load_balancer"]["listener_change_delay"] = "15s"
    result = simulate(scenario_from_dict(raw), record_requests=True)
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    inside, outside = _window(result, s["rollback_start_s"], 15)
    assert (inside["status"] == 503).all() and (outside["status"] != 503).all()
    assert s["requests_503"] == pytest.approx(40 * 15, abs=1)
    ev = result.events
    requested = ev[ev["event"] == "listener change requested"]["time_s"]
    assert (requested == s["rollback_start_s"]).any()


def test_a_slow_listener_change_is_harmless_on_the_way_forward():
    raw = _bad_all_at_once()
    raw["faults"] = []
    raw["load_balancer"]["listener_change_delay"] = "15s"
    result = simulate(scenario_from_dict(raw))
    assert result.summary["outcome"] == "SUCCEEDED"
    assert result.summary["requests_503"] == 0
    ev = result.events
    asked = ev[ev["event"] == "listener change requested"]["time_s"].iloc[0]
    moved = ev[ev["event"] == "production traffic shifted"]["time_s"].iloc[0]
    assert moved - asked == 15


def _reset_in_bake(**fault) -> dict:
    return {
        "name": "reset",
        "duration": "30m",
        "seed": 1,
        "load": {"rps": 20, "arrivals": "uniform"},
        "service": {"tasks": 4},
        "load_balancer": {"deregistration_delay": "30s", "health_check": HC},
        "faults": [
            {"kind": "listener_reset", "after": "full_traffic", "at": "5m", **fault},
        ],
        "deployment": {
            "controller": "ecs",
            "start": "60s",
            "strategy": "BLUE_GREEN",
            "bake_time": "10m",
        },
    }


def test_an_outside_listener_reset_503s_every_request_from_clean_up_until_it_is_undone():
    result = simulate(scenario_from_dict(_reset_in_bake(duration="10m")), record_requests=True)
    s = result.summary
    # The deployment "succeeds": the controller never looks at the listener again.
    assert s["outcome"] == "SUCCEEDED"
    ev = result.events
    clean_up = ev[ev["event"] == "CLEAN_UP started"]["time_s"].iloc[0]
    ended = ev[ev["event"] == "fault ended"]["time_s"].iloc[0]
    assert ended - clean_up == 5 * 60
    inside, outside = _window(result, clean_up, ended - clean_up)
    assert (inside["status"] == 503).all() and (inside["revision"] == "blue").all()
    assert (outside["status"] != 503).all()
    assert s["requests_503"] == len(inside) == pytest.approx(20 * 300, abs=1)


def test_the_controllers_next_weight_change_overwrites_an_outside_reset():
    raw = _reset_in_bake()
    raw["deployment"].update({"strategy": "LINEAR", "linear": {"step_percent": 50}})
    raw["faults"][0].update({"after": "production_traffic", "at": "1m"})
    result = simulate(scenario_from_dict(raw))
    ev = result.events
    shifts = ev[ev["event"] == "production traffic shifted"]["detail"].tolist()
    assert shifts[0].startswith("green 50%")
    assert "outside change" in shifts[1] and shifts[1].startswith("green 0%")
    assert shifts[2].startswith("green 100%")  # the next step re-asserts the weights
    assert result.summary["requests_503"] == 0  # blue still had its targets


def test_listener_timing_fields_are_bounded():
    raw = _bad_all_at_once(rollback_reroute_delay="2h")
    with pytest.raises(ScenarioError, match="rollback_reroute_delay"):
        scenario_from_dict(raw)
    raw = _bad_all_at_once()
    raw["load_balancer"]["listener_change_delay"] = "20m"
    with pytest.raises(ScenarioError, match="listener_change_delay"):
        scenario_from_dict(raw)

"""The generic steps controller end to end, and the summary figures users weigh.

Includes the proportionality canarying rests on (a bad release at a 5 % canary fails about
5 % × its error rate of all requests), the false-alarm case (a dependency outage rolls back a
good release, and the summary shows blue failed too), and the cost of running both revisions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import health_checks, service

from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict

ALARM_5XX = {
    "name": "green-5xx",
    "metric": "HTTPCode_Target_5XX_Count",
    "target_group": "green",
    "statistic": "Sum",
    "period": 60,
    "evaluation_periods": 2,
    "datapoints_to_alarm": 1,
    "threshold": 5,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


def scenario(
    green_error=0.0,
    *,
    steps=None,
    alarms=True,
    hooks=None,
    faults=(),
    rps=50,
    duration=900,
    **extra,
):
    raw = {
        "name": "steps",
        "duration": duration,
        "load": {"rps": rps},
        "service": service(4, mean=0.01, startup=20, cpu=1, memory=2),
        "green": {"error_rate": green_error},
        "load_balancer": {
            "deregistration_delay": 10,
            "test_listener": True,
            "health_check": health_checks(10, healthy_threshold=2),
        },
        "deployment": {
            "controller": "steps",
            "start": 60,
            "steps": steps
            or [
                {"weight": 10, "pause": "3m"},
                {"weight": 50, "pause": "2m"},
                {"weight": 100, "pause": "1m"},
            ],
            "alarms": ["green-5xx"] if alarms else [],
            "hooks": hooks or {},
        },
        "alarms": [ALARM_5XX],
        "faults": list(faults),
        **extra,
    }
    return scenario_from_dict(raw, "steps")


def events(result):
    return list(result.events.loc[result.events["source"] == "steps", "event"])


def test_healthy_green_goes_through_every_step_and_blue_is_removed():
    res = simulate(scenario(), seed=1)
    s = res.summary
    assert s["outcome"] == "SUCCEEDED"
    assert events(res) == [
        "deployment started",
        "green task set created",
        "green tasks running",
        "green healthy",
        "test traffic routed to green",
        "deployment succeeded",
    ]
    shifts = res.events[res.events["event"] == "production traffic shifted"]
    assert [d.split("%")[0] for d in shifts["detail"]] == ["green 10", "green 50", "green 100"]
    # each step holds for its pause: 3 min at 10 %, 2 min at 50 %, 1 min at 100 %
    times = shifts["time_s"].to_numpy()
    assert list(times[1:] - times[:-1]) == [180.0, 120.0]
    assert s["deployment_end_s"] == times[-1] + 60
    assert res.timeline["running_blue"].iloc[-1] == 0
    assert s["requests_failed"] == 0 and s["alarms_fired"] == []


def test_bad_green_is_caught_by_the_alarm_and_rolled_back():
    res = simulate(scenario(green_error=0.2), seed=2)
    s = res.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["alarms_fired"] == ["green-5xx"]
    ev = events(res)
    assert ev[-3:] == ["alarm detected", "rollback started", "deployment rolled back"]
    # caught during the first (10 %) step: green never saw more than 10 %
    assert res.timeline["green_weight"].max() == 10
    assert s["time_to_detect_s"] == pytest.approx(
        s["rollback_start_s"] - s["first_faulty_green_request_s"]
    )
    assert 0 < s["time_to_detect_s"] < 180
    assert s["detected_before_full_traffic"] is True
    after = res.timeline[res.timeline["time_s"] > s["rollback_start_s"] + 1]
    assert (after["green_weight"] == 0).all() and after["requests_green"].sum() == 0


def test_a_failing_analysis_probe_rolls_back_before_users_see_green():
    hooks = {"analysis": {"kind": "probe", "requests": 40, "rate": 20, "max_error_rate": 0.05}}
    res = simulate(
        scenario(
            green_error=0.5,
            steps=[{"weight": 0, "pause": 60}, {"weight": 100}],
            alarms=False,
            hooks=hooks,
        ),
        seed=3,
    )
    s = res.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["requests_green"] == 0
    assert s["test_requests"] == 40 and s["test_requests_failed"] > 5
    assert "analysis after step 1 failed" in s["outcome_reason"]


def test_without_rollback_the_deployment_stops_where_it_is():
    sc = scenario(green_error=0.2)
    sc.deployment.rollback_on_failure = False
    res = simulate(sc, seed=2)
    assert res.summary["outcome"] == "FAILED"
    assert res.summary["rollback_start_s"] is None
    assert res.timeline["green_weight"].iloc[-1] == 10


def test_a_5_percent_canary_of_a_release_failing_20_percent_fails_1_percent():
    # The proportionality canarying rests on: failures ≈ canary share × error rate.
    res = simulate(
        scenario(
            green_error=0.2,
            steps=[{"weight": 5, "pause": "30m"}, {"weight": 100}],
            alarms=False,
            rps=200,
            duration=1200,
        ),
        seed=4,
        record_requests=True,
    )
    req = res.requests
    shift = res.summary["production_traffic_s"]
    canary = req[(req["arrival_s"] >= shift + 1) & (req["arrival_s"] < 1200)]
    n = len(canary)
    failed = int((canary["status"] >= 500).sum())
    p = 0.05 * 0.2
    assert n > 150_000
    assert abs(failed - n * p) <= 3.3 * math.sqrt(n * p * (1 - p))  # 99.9 % binomial band
    share = (canary["revision"] == "green").mean()
    assert abs(share - 0.05) <= 3.3 * math.sqrt(0.05 * 0.95 / n)


def test_a_dependency_outage_is_a_false_alarm_and_the_summary_shows_it():
    # A shared dependency fails both revisions during the canary: the alarm on green's 5xx
    # fires and the good release is rolled back. Blue failed as much: not the release.
    outage = {
        "kind": "dependency_outage",
        "error_rate": 0.2,
        "after": "production_traffic",
        "at": 30,
        "duration": "3m",
    }
    res = simulate(scenario(faults=[outage]), seed=5)
    s = res.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["alarms_fired"] == ["green-5xx"]
    assert s["error_rate_blue"] > 0.02 and s["requests_failed_blue"] > 0  # blue's own is 0
    start = res.events.loc[res.events["event"] == "fault started", "time_s"].iloc[0]
    during = res.timeline[
        (res.timeline["time_s"] >= start + 1) & (res.timeline["time_s"] < start + 60)
    ]
    blue_rate = during["errors_blue"].sum() / during["requests_blue"].sum()
    assert blue_rate == pytest.approx(0.2, abs=0.05)
    assert s["first_faulty_green_request_s"] is None and s["time_to_detect_s"] is None


def test_cost_is_the_task_time_of_both_revisions_at_fargate_prices():
    res = simulate(scenario(), seed=1)
    s = res.summary
    ev = res.events
    stopped = ev[ev["event"] == "task stopped"]["time_s"]
    created = ev[ev["event"] == "task provisioning"]["time_s"]
    duration = 900
    # Fargate bills from the image pull, rounded up to the second, one minute at least. 4 blue
    # tasks from 0 to their stop; 4 green tasks from their pull (after the 20 % of the 20 s
    # start-up spent provisioning) to the end of the run.
    assert len(stopped) == 4 and (stopped > 60).all()
    task_seconds = np.ceil(stopped - 1e-9).sum() + (duration - (created + 0.2 * 20)).sum()
    assert s["vcpu_hours"] == pytest.approx(task_seconds * 1 / 3600)
    assert s["gb_hours"] == pytest.approx(task_seconds * 2 / 3600)
    assert s["cost_usd"] == pytest.approx(s["vcpu_hours"] * 0.04048 + s["gb_hours"] * 0.004445)
    assert s["peak_tasks"] == 8

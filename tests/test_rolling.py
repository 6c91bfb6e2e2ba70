"""The ECS rolling update (``controller: ecs``, ``strategy: ROLLING``), pinned by its rules.

The bounds are ECS's (``minimumHealthyPercent`` rounded up, ``maximumPercent`` rounded down);
what a run must show follows from them: with 100 % / 200 % the service never has fewer healthy
tasks than its desired count and peaks at twice it; with 50 % / 100 % it dips to half and never
exceeds the desired count; a bad release is rolled back (by an alarm, or by the circuit breaker)
with a rolling update back to the old revision. Each run takes well under a second.
"""

from __future__ import annotations

import pytest

from bluegreen_sim import simulate
from bluegreen_sim.aws.controllers.rolling import RollingDeployment, rolling_bounds
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict

HC = {"interval": "10s", "timeout": "5s", "healthy_threshold": 3, "unhealthy_threshold": 2}


def _rolling(minimum: int, maximum: int, **extra) -> dict:
    raw = {
        "name": "rolling",
        "duration": "15m",
        "seed": 1,
        "load": {"rps": 100},
        "service": {
            "tasks": 10,
            "minimum_healthy_percent": minimum,
            "maximum_percent": maximum,
        },
        "load_balancer": {"deregistration_delay": "30s", "health_check": HC},
        "deployment": {"controller": "ecs", "strategy": "ROLLING", "start": "60s"},
    }
    raw.update(extra)
    return raw


def _healthy_during(result) -> tuple[int, int]:
    """(fewest, most) healthy tasks of both revisions from the deployment start to the end."""
    tl = result.timeline
    start = result.summary["deployment_start_s"]
    during = tl[tl["time_s"] >= start]
    healthy = during["healthy_blue"] + during["healthy_green"]
    return int(healthy.min()), int(healthy.max())


def test_bounds_round_the_minimum_up_and_the_maximum_down():
    assert rolling_bounds(10, 100, 200) == (10, 20)
    assert rolling_bounds(10, 50, 100) == (5, 10)
    assert rolling_bounds(3, 50, 150) == (2, 4)  # 1.5 → 2 healthy, 4.5 → 4 running
    assert rolling_bounds(7, 0, 100) == (0, 7)


def test_the_ecs_controller_picks_the_rolling_update_for_strategy_rolling():
    from bluegreen_sim.engine.simulation import World

    world = World(scenario_from_dict(_rolling(100, 200)), 0, False)
    assert isinstance(world.controller, RollingDeployment)


def test_100_200_never_serves_with_fewer_than_the_desired_healthy_tasks():
    result = simulate(scenario_from_dict(_rolling(100, 200)))
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    fewest, _ = _healthy_during(result)
    assert fewest >= 10
    assert s["peak_tasks"] == 20  # ⌊10 × 200 %⌋ running at once, no more
    assert s["requests_failed"] == 0
    # Both revisions served production traffic through the one target group.
    assert s["requests_blue"] > 0 and s["requests_green"] > 0
    assert result.timeline["green_weight"].max() == 0
    tl = result.timeline
    end = tl[tl["time_s"] >= s["deployment_end_s"] + 60]
    assert (end["requests_blue"] == 0).all() and (end["healthy_green"] == 10).all()


def test_50_100_dips_to_half_and_never_exceeds_the_desired_count():
    result = simulate(scenario_from_dict(_rolling(50, 100)))
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    fewest, most = _healthy_during(result)
    assert fewest == 5
    assert most <= 10
    ev = result.events
    first = ev[ev["event"] == "rolling batch"].iloc[0]["detail"]
    assert first.startswith("1: stop 5 blue, start 5 green")


def test_both_revisions_meet_requests_in_proportion_to_their_targets():
    result = simulate(scenario_from_dict(_rolling(90, 110)))
    tl = result.timeline
    hb, hg = tl["healthy_blue"], tl["healthy_green"]
    mixed = tl[(hb > 0) & (hg > 0)]
    assert len(mixed) >= 120  # one task at a time: minutes of mixed service
    total = mixed["requests_blue"] + mixed["requests_green"]
    expected = total * mixed["healthy_green"] / (mixed["healthy_blue"] + mixed["healthy_green"])
    # round robin over the targets in service: each request meets the new revision with
    # probability (new healthy targets) / (all healthy targets)
    assert mixed["requests_green"].sum() == pytest.approx(expected.sum(), rel=0.03)


def _alarm(name: str = "lb-5xx") -> dict:
    return {
        "name": name,
        "metric": "HTTPCode_Target_5XX_Count",
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
        "threshold": 20,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    }


def test_a_bad_release_is_rolled_back_by_the_alarm():
    raw = _rolling(100, 200, alarms=[_alarm()])
    raw["deployment"].update({"alarms": ["lb-5xx"], "bake_time": "5m"})
    raw["faults"] = [{"kind": "error_rate", "revision": "green", "error_rate": 0.1}]
    result = simulate(scenario_from_dict(raw))
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "alarm lb-5xx in ALARM"
    assert s["alarms_fired"] == ["lb-5xx"]
    assert s["requests_failed"] == s["requests_failed_green"] > 0
    # After the rollback the old revision alone serves, at full strength.
    tl = result.timeline
    after = tl[tl["time_s"] >= s["deployment_end_s"] + 60]
    assert (after["requests_green"] == 0).all() and (after["healthy_blue"] == 10).all()
    fewest, _ = _healthy_during(result)
    assert fewest >= 10  # the rollback keeps the same bounds


def test_a_crashing_release_is_rolled_back_by_the_circuit_breaker():
    raw = _rolling(100, 200)
    raw["faults"] = [{"kind": "crash_loop", "revision": "green"}]
    raw["deployment"]["circuit_breaker"] = {"reset_on_healthy_task": False}
    result = simulate(scenario_from_dict(raw))
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"].startswith("circuit breaker: 5 failed task(s)")
    names = list(result.events["event"])
    assert names.index("circuit breaker TRIGGERED") < names.index("ROLLBACK_SUCCESSFUL")


def test_a_rolling_update_that_could_not_move_is_refused():
    raw = _rolling(100, 100)
    with pytest.raises(ScenarioError, match="maximum_percent above 100"):
        scenario_from_dict(raw)


def test_a_rolling_update_has_no_lifecycle_hooks():
    raw = _rolling(100, 200)
    raw["deployment"]["hooks"] = {"POST_SCALE_UP": {"kind": "lambda"}}
    with pytest.raises(ScenarioError, match="not a hook"):
        scenario_from_dict(raw)

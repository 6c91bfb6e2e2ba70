"""The summary's rules that mutation testing found unread (mutation/README.md), one rule per test.

Every documented key is there; the per-revision counts and rates agree with the requests
themselves; billed vCPU- and GB-hours are task time × the task's size; a run without
production requests reports no rate and no latency instead of dividing by zero; time to
detect and "detected before full traffic" at the instant itself. Each run is a few seconds
of simulated minutes at most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SUMMARY_CONTRACT_KEYS, five_xx_alarm, health_checks, service

from bluegreen_sim.aws.statistics import hist_counts, hist_percentile
from bluegreen_sim.engine.recorder import STATUSES
from bluegreen_sim.engine.simulation import World, _summary, simulate
from bluegreen_sim.scenario import scenario_from_dict

# beyond the contract keys (conftest): the keys docs/semantics.md, lessons and CLI tables name
DOCUMENTED_KEYS = {
    "controller",
    "outcome_reason",
    "production_traffic_s",
    "full_traffic_s",
    "detected_before_full_traffic",
    "first_faulty_green_request_s",
    "requests_failed_blue",
    "requests_blue",
    "requests_green",
    "error_rate_blue",
    "error_rate_green",
    "test_requests",
    "test_requests_failed",
    "clients_reached_green",
    *(f"requests_{s}" for s in STATUSES),
}


def _raw(*, rps=40, duration=600, deployment=None, **extra):
    return {
        "name": "summary-rules",
        "duration": duration,
        "load": {"rps": rps},
        "service": service(3, mean=0.01, startup=10, concurrency=4, cpu=2, memory=4),
        "load_balancer": {
            "deregistration_delay": 5,
            "health_check": health_checks(10, healthy_threshold=2, initial_checks=1),
        },
        "deployment": deployment or {"controller": "none"},
        **extra,
    }


def _bad_green_rolled_back(**extra):
    """A steps deployment to a green that fails 20 % (blue 2 %), caught by a 5xx alarm."""
    alarm = five_xx_alarm("green-5xx", target_group="green", threshold=5)
    raw = _raw(
        deployment={
            "controller": "steps",
            "start": 60,
            "steps": [{"weight": 50, "pause": "5m"}, {"weight": 100, "pause": "1m"}],
            "alarms": ["green-5xx"],
        },
        alarms=[alarm],
        green={"error_rate": 0.2},
        **extra,
    )
    raw["service"]["error_rate"] = 0.02
    return scenario_from_dict(raw)


@pytest.fixture
def rolled_back():
    # one run per test, not per module: mutmut maps a test to the functions it runs itself,
    # and a module-scoped run would be charged to the first test only
    return simulate(_bad_green_rolled_back(), seed=5, record_requests=True)


def test_the_summary_has_every_documented_key_named_as_documented():
    s = simulate(scenario_from_dict(_raw(rps=5, duration=120)), seed=3).summary
    assert not SUMMARY_CONTRACT_KEYS - s.keys()
    assert not DOCUMENTED_KEYS - s.keys()
    assert s["scenario"] == "summary-rules" and s["seed"] == 3 and s["controller"] == "none"
    assert s["outcome"] == "NO_DEPLOYMENT" and s["outcome_reason"] is None


def test_a_seed_that_is_not_an_int_or_a_string_is_reported_by_its_repr():
    # summary.json must hold it: a list of ints is a valid SeedSequence entropy
    s = simulate(scenario_from_dict(_raw(rps=5, duration=60)), seed=[1, 2]).summary
    assert s["seed"] == "[1, 2]"


def test_per_revision_counts_and_rates_agree_with_the_requests(rolled_back):
    s, req = rolled_back.summary, rolled_back.requests
    assert s["outcome"] == "ROLLED_BACK" and s["requests_green"] > 0
    failed = req["status"] >= 500
    for rev in ("blue", "green"):
        mine = req["revision"] == rev
        assert s[f"requests_{rev}"] == mine.sum()
        assert s[f"requests_failed_{rev}"] == (mine & failed).sum()
        assert s[f"error_rate_{rev}"] == pytest.approx((mine & failed).sum() / mine.sum())
    assert s["error_rate_green"] > s["error_rate_blue"]
    assert s["requests_total"] == len(req) == s["requests_blue"] + s["requests_green"]
    assert s["requests_failed"] == failed.sum()
    for status in STATUSES:
        assert s[f"requests_{status}"] == (req["status"] == status).sum()


def test_latency_figures_come_from_the_requests_latencies(rolled_back):
    s, req = rolled_back.summary, rolled_back.requests
    latency = req["latency_ms"].to_numpy()
    assert s["latency_mean_ms"] == pytest.approx(latency.mean())
    hist = hist_counts(latency)
    assert s["latency_p50_ms"] == hist_percentile(hist, 0.5)
    assert s["latency_p99_ms"] == hist_percentile(hist, 0.99)
    assert s["latency_p50_ms"] < s["latency_p99_ms"]


def test_worst_minute_p99_is_the_largest_p99_of_a_calendar_minute(rolled_back):
    s, req = rolled_back.summary, rolled_back.requests
    minute = (req["finish_s"] // 60).astype(int)
    p99s = [
        hist_percentile(hist_counts(g.to_numpy()), 0.99)
        for _, g in req["latency_ms"].groupby(minute)
    ]
    assert s["worst_minute_p99_ms"] == max(p99s)
    # a mixture's p99 never exceeds its worst part's
    assert s["latency_p99_ms"] <= s["worst_minute_p99_ms"]


def test_time_to_detect_runs_from_the_first_faulty_request_to_the_stop(rolled_back):
    s = rolled_back.summary
    assert s["alarms_fired"] == ["green-5xx"]
    assert s["time_to_detect_s"] == pytest.approx(
        s["rollback_start_s"] - s["first_faulty_green_request_s"]
    )
    assert s["time_to_detect_s"] > 0
    # green's first production traffic is the first shift; its first faulty request follows it
    shifts = rolled_back.events[rolled_back.events["event"] == "production traffic shifted"]
    assert s["production_traffic_s"] == shifts["time_s"].iloc[0]
    assert s["first_faulty_green_request_s"] >= s["production_traffic_s"]
    # caught during the 50 % step: green never had all the traffic
    assert s["full_traffic_s"] is None and s["detected_before_full_traffic"] is True


def _finished_world(sc, seed=1):
    world = World(sc, seed, False)
    world.run()
    return world


def test_a_stop_at_the_first_faulty_request_itself_is_detected_in_zero_seconds():
    world = _finished_world(_bad_green_rolled_back(duration=240))
    first = world.dataplane.first_faulty_green
    assert first is not None
    empty = pd.DataFrame()
    world.deployment.stopped_at = first
    assert _summary(world, 1, empty)["time_to_detect_s"] == 0
    # stopped before any faulty request: nothing was detected
    world.deployment.stopped_at = first - 1
    assert _summary(world, 1, empty)["time_to_detect_s"] is None


def test_a_stop_at_the_instant_of_full_traffic_is_not_before_it():
    sc = scenario_from_dict(
        _raw(
            rps=5,
            duration=240,
            deployment={"controller": "steps", "start": 30, "steps": [{"weight": 100}]},
        )
    )
    world = _finished_world(sc)
    full = world._milestones["full_traffic"].value
    empty = pd.DataFrame()
    world.deployment.stopped_at = full
    assert _summary(world, 1, empty)["detected_before_full_traffic"] is False
    world.deployment.stopped_at = full - 1
    assert _summary(world, 1, empty)["detected_before_full_traffic"] is True


def test_billed_hours_are_task_time_times_the_tasks_size():
    # Blue's 3 tasks run the whole 600-s run (no deployment): billed up to the end.
    sc = scenario_from_dict(_raw(rps=5, duration=600))
    s = simulate(sc, seed=1).summary
    task_hours = 3 * 600 / 3600
    assert s["vcpu_hours"] == pytest.approx(task_hours * 2)  # cpu 2
    assert s["gb_hours"] == pytest.approx(task_hours * 4)  # memory 4 GB
    assert s["cost_usd"] == pytest.approx(
        s["vcpu_hours"] * sc.pricing.vcpu_hour + s["gb_hours"] * sc.pricing.gb_hour
    )
    assert s["peak_tasks"] == 3


def test_a_run_without_production_requests_has_no_rates_and_no_latencies():
    s = simulate(scenario_from_dict(_raw(rps=0, duration=120)), seed=1).summary
    assert s["requests_total"] == s["requests_blue"] == s["requests_green"] == 0
    for key in (
        "error_rate_blue",
        "error_rate_green",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p99_ms",
        "worst_minute_p99_ms",
    ):
        assert s[key] is None, key
    assert s["excess_failed"] == 0
    assert np.isfinite(s["cost_usd"]) and s["cost_usd"] > 0


def test_a_revision_that_served_without_failing_has_an_error_rate_of_zero_not_none():
    sc = scenario_from_dict(
        _raw(
            rps=5,
            duration=150,
            deployment={"controller": "steps", "start": 30, "steps": [{"weight": 100}]},
        )
    )
    s = simulate(sc, seed=2).summary
    assert s["outcome"] == "SUCCEEDED"
    assert s["requests_blue"] > 0 and s["requests_green"] > 0 and s["requests_failed"] == 0
    assert s["error_rate_blue"] == 0.0 and s["error_rate_green"] == 0.0


def _clients_run(start: float) -> dict:
    sc = scenario_from_dict(
        {
            "duration": 240,
            "load": {"rps": 10, "clients": 40},
            "service": service(2, mean=0.01, startup=10, error_rate=0.05),
            "load_balancer": {"health_check": health_checks(10, healthy_threshold=2)},
            "deployment": {"controller": "steps", "start": start, "steps": [{"weight": 100}]},
        }
    )
    return simulate(sc, seed=4).summary


def test_every_client_reaches_green_once_green_takes_all_traffic_and_none_before():
    s = _clients_run(start=30)  # green takes all traffic at about a minute, for three minutes
    assert s["requests_green"] > 0
    # 40 clients sending 10 requests a second between them: each sends green dozens
    assert s["clients_reached_green"] == 40
    assert _clients_run(start=230)["clients_reached_green"] == 0  # green is not ready by 240 s


def test_blues_error_rate_is_reported_when_green_served_nothing():
    s = _clients_run(start=230)  # green cannot be healthy (10 s + 2 checks) before 240 s
    assert s["requests_green"] == 0 and s["requests_blue"] > 0
    assert s["error_rate_blue"] == s["requests_failed_blue"] / s["requests_blue"]
    assert s["error_rate_green"] is None

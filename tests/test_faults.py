"""The fault library: each kind does what it says, when it says, to whom it says."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import constant, health_checks, service

from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict


def run(faults, *, rps=100, tasks=4, duration=240, seed=3, deployment=None, **extra):
    raw = {
        "name": "faults",
        "duration": duration,
        "load": {"rps": rps},
        # the utilisation figures below are of one-slot tasks
        "service": service(tasks, mean=0.01, startup=10, concurrency=1),
        "load_balancer": {
            "deregistration_delay": 5,
            "health_check": health_checks(5, healthy_threshold=2),
        },
        "faults": faults,
        "deployment": deployment or {"controller": "none"},
        **extra,
    }
    return simulate(scenario_from_dict(raw, "faults"), seed=seed, record_requests=True)


def in_window(req, t0, t1):
    return req[(req["arrival_s"] >= t0) & (req["arrival_s"] < t1)]


def binomial_ok(k, n, p, z=3.3):
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


def test_error_rate_fault_applies_only_while_in_force():
    res = run(
        [{"kind": "error_rate", "revision": "blue", "error_rate": 0.2, "at": 60, "duration": 60}]
    )
    req = res.requests
    during = in_window(req, 60, 120)
    assert binomial_ok((during["status"] == 500).sum(), len(during), 0.2)
    assert (in_window(req, 0, 60)["status"] == 500).sum() == 0
    assert (in_window(req, 121, 240)["status"] == 500).sum() == 0
    events = list(res.events["event"])
    assert events.count("fault started") == 1 and events.count("fault ended") == 1


def test_latency_fault_multiplies_and_adds():
    res = run(
        [{"kind": "latency", "revision": "blue", "multiply": 3, "add": "50ms", "at": 120}], rps=20
    )
    req = res.requests
    service = (req["finish_s"] - req["start_s"]).to_numpy()
    before = service[(req["arrival_s"] < 120).to_numpy()]
    after = service[(req["arrival_s"] >= 121).to_numpy()]
    assert before.mean() == pytest.approx(0.010, rel=0.1)
    assert after.mean() == pytest.approx(3 * 0.010 + 0.050, rel=0.1)


def test_crash_cuts_in_flight_requests_and_ecs_replaces_the_tasks():
    # Long requests, so some are in flight at the crash: they end as ELB 502 at that instant.
    res = run(
        [{"kind": "crash", "revision": "blue", "at": 100}],
        rps=6,
        service={"tasks": 4, "latency": constant(0.5), "startup": constant(10)},
    )
    req = res.requests
    cut = req[req["status"] == 502]
    assert len(cut) > 0
    assert np.allclose(cut["finish_s"], 100.0)
    assert (cut["arrival_s"] < 100).all() and (cut["arrival_s"] > 99).all()
    # ...and every other request that arrived before the crash had finished by then.
    before = in_window(req, 0, 100)
    assert (before.loc[before["status"] != 502, "finish_s"] <= 100).all()
    ev = res.events
    assert (ev["event"] == "task stopped").sum() == 4
    # ECS starts four replacements at once; they run after the start-up time.
    running = ev[(ev["event"] == "task running") & (ev["time_s"] > 100)]
    assert len(running) == 4 and np.allclose(running["time_s"], 110.0)
    # No target in service for the blue group in between: 503s, then service resumes.
    assert (in_window(req, 101, 110)["status"] == 503).all()
    assert (in_window(req, 125, 240)["status"] == 200).all()
    assert res.timeline.loc[105, "running_blue"] == 0 and res.timeline.loc[200, "running_blue"] == 4


def test_crash_loop_keeps_tasks_from_staying_up():
    res = run(
        [
            {
                "kind": "crash_loop",
                "revision": "blue",
                "at": 30,
                "uptime": {"distribution": "constant", "value": 3},
            }
        ],
        duration=150,
    )
    stops = res.events[res.events["event"] == "task stopped"]
    # every task dies, and every replacement dies 3 s after it starts running
    assert len(stops) >= 4 * 5
    assert res.summary["requests_503"] > 0


HEALTH_FAULT = [
    {"kind": "health_check", "revision": "blue", "probability": 1.0, "at": 60, "duration": 30}
]


def test_health_check_fault_makes_targets_unhealthy_and_ecs_replaces_them_first():
    res = run(HEALTH_FAULT, duration=200)
    ev = res.events
    unhealthy = ev[ev["event"] == "target unhealthy"]
    assert len(unhealthy) >= 4
    # two consecutive failed checks at 5 s intervals: unhealthy within ~10 s of the fault
    assert unhealthy["time_s"].min() <= 60 + 2 * 5 + 2
    # ECS starts replacements first and keeps the unhealthy tasks meanwhile; every target is
    # unhealthy, so the ALB fails open and the (healthy) application goes on serving.
    assert (ev["event"] == "task marked for replacement").sum() >= 4
    req = res.requests
    assert res.summary["requests_503"] == 0
    assert (in_window(req, 60, 200)["status"] == 200).all()
    # The fault ends: a kept target passes the healthy threshold again (unhealthy → healthy)
    # and the marked tasks are stopped only once replacements are healthy.
    back = ev[(ev["event"] == "target healthy") & ev["detail"].str.contains("consecutive")]
    assert len(back) >= 1 and back["time_s"].min() >= 90
    stopped = ev[ev["detail"].str.contains("unhealthy: failed ELB health checks", na=False)]
    assert len(stopped) >= 4
    # minimumHealthyPercent 100: at least the 4 desired tasks stay RUNNING throughout.
    assert res.timeline["running_blue"].min() >= 4


def test_health_check_fault_with_no_room_stops_first_and_the_group_goes_dark():
    # maximumPercent 100 leaves no room to start a replacement first; minimumHealthyPercent 0
    # lets ECS stop every unhealthy task: nothing serves until the replacements are healthy.
    res = run(
        HEALTH_FAULT,
        duration=200,
        service={
            "tasks": 4,
            "latency": {"distribution": "exponential", "mean": 0.01},
            "startup": {"distribution": "constant", "value": 10},
            "minimum_healthy_percent": 0,
            "maximum_percent": 100,
        },
    )
    req = res.requests
    outage = req[req["status"] == 503]
    assert len(outage) > 0 and outage["arrival_s"].min() > 60
    assert res.timeline["running_blue"].min() == 0
    assert (in_window(req, 130, 200)["status"] == 200).all()


def test_slow_leak_grows_latency_with_age_then_crashes():
    res = run(
        [
            {
                "kind": "slow_leak",
                "revision": "blue",
                "growth": "10ms",
                "crash_after": "2m",
                "at": 30,
            }
        ],
        rps=20,
        duration=200,
    )
    req = res.requests
    service = (req["finish_s"] - req["start_s"]).to_numpy()
    t = req["arrival_s"].to_numpy()
    # +10 ms per minute since the fault: about +15 ms at 120 s
    early = service[(t > 31) & (t < 45)].mean()
    late = service[(t > 120) & (t < 140)].mean()
    assert late - early == pytest.approx(0.010 * (130 - 38) / 60, abs=0.004)
    crashes = res.events[res.events["detail"].str.contains("out of memory")]
    assert len(crashes) == 4 and np.allclose(crashes["time_s"], 150.0)


def test_load_dependent_errors_appear_only_above_the_utilisation():
    # One task, 10 ms per request: at 20 rps it is 20 % busy, at 90 rps 90 % busy.
    fault = [{"kind": "load_dependent", "revision": "blue", "error_rate": 0.5, "utilisation": 0.6}]
    low = run(fault, rps=20, tasks=1, duration=120)
    high = run(fault, rps=90, tasks=1, duration=120)
    assert low.summary["requests_500"] == 0
    assert high.summary["requests_500"] > 0.2 * high.summary["requests_total"]


def test_dependency_outage_hits_both_revisions_and_is_not_the_release():
    res = run(
        [
            {
                "kind": "dependency_outage",
                "error_rate": 0.3,
                "after": "production_traffic",
                "at": 30,
                "duration": 60,
            }
        ],
        deployment={
            "controller": "steps",
            "start": 10,
            "steps": [{"weight": 50, "pause": "3m"}, {"weight": 100}],
        },
        duration=300,
    )
    s = res.summary
    assert s["requests_failed_blue"] > 0 and s["requests_failed_green"] > 0
    start = res.events.loc[res.events["event"] == "fault started", "time_s"].iloc[0]
    assert start == pytest.approx(s["production_traffic_s"] + 30)
    # A dependency outage does not make green a faulty release.
    assert s["first_faulty_green_request_s"] is None


def test_fraction_hits_about_that_share_of_tasks():
    hit = []
    for seed in range(5):
        res = run(
            [{"kind": "crash", "revision": "blue", "at": 50, "fraction": 0.25}],
            tasks=20,
            rps=50,
            duration=80,
            seed=seed,
        )
        hit.append(int((res.events["event"] == "task stopped").sum()))
    assert 0 < np.mean(hit) < 10  # 25 % of 20 = 5 on average
    assert len(set(hit)) > 1  # drawn per task, so it varies

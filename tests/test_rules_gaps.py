"""Rules that plausible bugs broke without a test noticing (issue 16), one rule per test.

What a target group's ``RequestCount`` counts, which of 504 and 502 a request gets when its task
stops after the idle timeout, what ``excess_failed`` is measured against, and that round robin
keeps its position from one serve pass to the next.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import constant, health_checks, service

from bluegreen_sim.aws.metrics import BLUE_TG, GREEN_TG, LB, MetricStore
from bluegreen_sim.engine.dataplane import DataPlane
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict

STATUSES = np.array([200, 500, 502, 503, 504], np.int16)


def _store_with(status, revision, when=5.0, latency=0.1):
    store = MetricStore(60.0)
    n = len(status)
    store.add(
        np.full(n, when),
        np.asarray(status, np.int16),
        np.asarray(revision, np.int8),
        np.full(n, latency),
        np.zeros(n, np.int16),
    )
    return store


@pytest.mark.parametrize("revision", [0, 1])
def test_request_count_leaves_out_requests_that_never_chose_a_target(revision):
    # AWS: RequestCount counts requests for which a target was chosen; a 503 (no target in
    # service) chose none. Every other outcome, 502 and 504 included, did.
    store = _store_with(STATUSES, np.full(5, revision))
    dim, other = (BLUE_TG, GREEN_TG) if revision == 0 else (GREEN_TG, BLUE_TG)
    chose_a_target = int((STATUSES != 503).sum())
    assert store.datapoint("RequestCount", dim, "Sum", 0, 60) == chose_a_target
    assert store.datapoint("RequestCount", other, "Sum", 0, 60) == 0
    assert store.datapoint("RequestCount", LB, "Sum", 0, 60) == chose_a_target
    assert store.datapoint("HTTPCode_ELB_503_Count", LB, "Sum", 0, 60) == 1
    # a period of nothing but 503s: zero requests, still reported
    only_503 = _store_with([503, 503], [revision, revision])
    assert only_503.datapoint("RequestCount", dim, "Sum", 0, 60) == 0
    assert only_503.datapoint("RequestCount", LB, "Sum", 0, 60) == 0


def _outcomes(idle_timeout, stop_at, rows):
    """DataPlane.outcomes on pending requests (arrival, finish, task, status)."""
    plane = SimpleNamespace(
        idle_timeout=idle_timeout,
        # the task table as outcomes reads it: stop times, how many tasks, no start-up delays
        table=SimpleNamespace(
            columns={"stop_at": np.asarray(stop_at, float)}, size=len(stop_at), start_delays=False
        ),
    )
    a, f, t, s = (np.array(c) for c in zip(*rows, strict=True))
    pending = {"arrival": a, "finish": f, "task": t, "status": s.astype(np.int16)}
    resp, status = DataPlane.outcomes(plane, pending)
    return resp.tolist(), status.tolist()


def test_a_task_stopped_after_the_idle_timeout_leaves_the_504_it_already_was():
    # Idle timeout 60 s; task 0 stops at 70 s, task 1 at 40 s, task 2 never.
    stop = [70.0, 40.0, np.inf]
    resp, status = _outcomes(
        60.0,
        stop,
        [
            (0.0, 100.0, 0, 200),  # would finish at 100; timed out at 60, before the stop: 504
            (0.0, 100.0, 1, 200),  # cut by the stop at 40, before the timeout: 502 at 40
            (0.0, 30.0, 0, 500),  # finished before both: its own status, at its finish
            (80.0, 90.0, 0, 200),  # arrived after its task stopped: 502 at once
            (0.0, 61.0, 2, 200),  # no stop, slower than the timeout: 504 at 60
            (5.0, 5.0, -1, 503),  # no target: stays a 503
        ],
    )
    assert status == [504, 502, 500, 502, 504, 503]
    assert resp == [60.0, 40.0, 30.0, 80.0, 60.0, 5.0]


def test_excess_failed_is_measured_against_blues_error_rate():
    blue_rate, green_rate = 0.02, 0.2
    sc = scenario_from_dict(
        {
            "duration": 600,
            "load": {"rps": 40},
            "service": service(2, mean=0.01, startup=10, concurrency=4, error_rate=blue_rate),
            "green": {"error_rate": green_rate},
            "load_balancer": {
                "health_check": health_checks(10, healthy_threshold=2, initial_checks=1)
            },
            "deployment": {"controller": "steps", "start": 60, "steps": [{"weight": 100}]},
        }
    )
    s = simulate(sc, seed=3).summary
    assert s["requests_blue"] > 0 and s["requests_green"] > 0
    # the failures beyond what blue, the baseline, would have failed on the same requests
    assert s["excess_failed"] == pytest.approx(
        s["requests_failed"] - blue_rate * s["requests_total"]
    )
    # which is about green's extra failures: more than zero, less than green failed in all
    assert 0 < s["excess_failed"] < s["requests_failed_green"]


def test_round_robin_keeps_its_place_from_one_serve_pass_to_the_next():
    # 4 targets, 7 evenly spaced requests a second: no serve pass (1 to 30 windows, cut at
    # every health check) holds a multiple of 4 requests for sure, so a position reset at a
    # pass would break the cycle and give the first target more than its share.
    tasks = 4
    sc = scenario_from_dict(
        {
            "duration": 300,
            "load": {"rps": 7, "arrivals": "uniform"},
            "service": {
                "tasks": tasks,
                "concurrency": 1,
                "latency": constant(0.01),
            },
            "load_balancer": {"health_check": health_checks(10)},
        }
    )
    req = simulate(sc, seed=1, record_requests=True).requests.sort_values("arrival_s")
    order = req["task"].to_numpy()
    assert len(set(order)) == tasks
    # strict rotation: each request goes to the target after the previous one's
    assert (order[tasks:] == order[:-tasks]).all()
    assert len(set(order[:tasks])) == tasks
    # so within every 10-s window batch each target's share is within one request of the others
    window = (req["arrival_s"] // 10).to_numpy()
    for w in np.unique(window):
        counts = np.unique(order[window == w], return_counts=True)[1]
        assert len(counts) == tasks and counts.max() - counts.min() <= 1


def test_the_instants_themselves_arrival_at_the_stop_finish_at_the_stop_or_at_the_timeout():
    # Task 0 stops at 10 s; idle timeout 60 s. Intervals are closed on the left: a task that
    # stops at t serves nothing arriving at t (even a request of no work); a response that
    # goes out at the instant of the stop, or exactly at the idle timeout, is a response.
    resp, status = _outcomes(
        60.0,
        [10.0, np.inf],
        [
            (10.0, 10.0, 0, 200),  # arrives as the task stops: refused, 502 at once
            (4.0, 10.0, 0, 200),  # finishes as the task stops: its own status
            (0.0, 60.0, 1, 500),  # answered exactly at the idle timeout: its own status
        ],
    )
    assert status == [502, 200, 500]
    assert resp == [10.0, 10.0, 60.0]


def test_a_revision_is_blue_or_green_and_any_other_name_is_an_error():
    sc = scenario_from_dict(
        {
            "duration": 60,
            "service": service(2, mean=0.01, startup=10, error_rate=0.01),
            "green": {"error_rate": 0.2},
        }
    )
    assert sc.revision("blue").error_rate == 0.01
    assert sc.revision("green").error_rate == 0.2
    for name in ("BLUE", "purple", None):  # not green's spec by default
        with pytest.raises(ValueError, match="revision must be 'blue' or 'green'"):
            sc.revision(name)

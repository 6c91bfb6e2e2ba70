"""Rules of the AWS side that mutation testing found unchecked (issue 16), one rule per test.

Alarms: which period each datapoint of the evaluation range covers, a period not yet published
is missing (not zero), the target-group dimension, metric math's missing datapoints, M of N, the
missing-data treatment and the state kept under ``ignore``, and how a transition is reported.
Each test builds the smallest world it needs: a metric store filled by hand, or a short run.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import constant, health_checks, service

from bluegreen_sim.aws.alarms import Alarm
from bluegreen_sim.aws.fargate import circuit_breaker_threshold
from bluegreen_sim.aws.metrics import COUNTS, DIMENSIONS, MetricStore, metrics_frame
from bluegreen_sim.aws.statistics import hist_bucket
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import AlarmSpec, CloudWatchSpec, scenario_from_dict

BLUE, GREEN = 0, 1


def _store(*minutes: list[tuple[int, int, int]]) -> MetricStore:
    """A store holding, for minute k, the responses ``minutes[k]``: (revision, status, count)."""
    store = MetricStore(3600.0)
    for k, batch in enumerate(minutes):
        for revision, status, count in batch:
            when = np.full(count, 60.0 * k + 30.0)
            store.add(
                when,
                np.full(count, status, np.int16),
                np.full(count, revision, np.int8),
                np.full(count, 0.1),
                np.zeros(count, np.int16),
            )
    return store


def _alarm(store: MetricStore, publish_delay: float = 0.0, **spec) -> Alarm:
    """An alarm on a hand-filled store; the world holds only what an alarm reads."""
    events: list[tuple] = []
    world = SimpleNamespace(
        scenario=SimpleNamespace(cloudwatch=CloudWatchSpec(publish_delay=publish_delay)),
        metrics=store,
        events=events,
        alarm_listeners=[],
        log=lambda source, event, detail="": events.append((source, event, detail)),
    )
    return Alarm(world, AlarmSpec(name="a", **spec))


def _requests(*counts: int) -> MetricStore:
    """Blue answering ``counts[k]`` requests (all 200) in minute k."""
    return _store(*[[(BLUE, 200, c)] if c else [] for c in counts])


# -- alarms: the evaluation range -----------------------------------------------------------


def test_each_datapoint_of_the_range_is_its_own_period_oldest_first():
    store = _requests(1, 2, 3, 4, 5, 6)
    # N = 3: a range of 5 one-minute periods, the newest ending at the evaluation instant
    alarm = _alarm(store, metric="RequestCount", statistic="Sum", evaluation_periods=3)
    assert alarm.values(300.0) == [1, 2, 3, 4, 5]
    assert alarm.values(360.0) == [2, 3, 4, 5, 6]
    # a two-minute period sums its two minutes; N = 1 gives a range of 3 periods
    alarm = _alarm(store, metric="RequestCount", statistic="Sum", period=120)
    assert alarm.values(360.0) == [1 + 2, 3 + 4, 5 + 6]


def test_a_period_not_yet_published_is_missing_not_zero_and_a_longer_one_partial():
    store = _requests(1, 2, 3, 4, 5, 6)
    # With a 60 s delay, at 300 s the minute [240, 300) has not reached CloudWatch: it is
    # missing, although RequestCount is reported as 0 for a minute without requests.
    alarm = _alarm(store, 60.0, metric="RequestCount", statistic="Sum", evaluation_periods=3)
    assert alarm.values(300.0) == [1, 2, 3, 4, None]
    # A 2-minute period whose second minute has not arrived holds its first minute only.
    alarm = _alarm(store, 60.0, metric="RequestCount", statistic="Sum", period=120)
    assert alarm.values(360.0) == [1 + 2, 3 + 4, 5]
    # and one whose minutes have not arrived at all is missing
    alarm = _alarm(store, 120.0, metric="RequestCount", statistic="Sum", period=120)
    assert alarm.values(360.0) == [1 + 2, 3 + 4, None]


def test_an_alarm_on_a_target_group_counts_that_group_only():
    store = _store([(BLUE, 500, 3), (GREEN, 500, 1), (GREEN, 200, 6)])
    spec = {"metric": "HTTPCode_Target_5XX_Count", "statistic": "Sum"}
    assert _alarm(store, **spec, target_group="green").values(60.0)[-1] == 1
    assert _alarm(store, **spec, target_group="blue").values(60.0)[-1] == 3
    assert _alarm(store, **spec).values(60.0)[-1] == 4  # the load balancer: both groups


def _ratio(a: dict, b: dict) -> dict:
    return {"expression": "100 * A / B", "metrics": {"A": a, "B": b}}


def test_metric_math_is_the_ratio_and_missing_where_an_input_is_missing_or_b_is_zero():
    errors = {"metric": "HTTPCode_Target_5XX_Count", "target_group": "green", "statistic": "Sum"}
    requests = {"metric": "RequestCount", "target_group": "green", "statistic": "Sum"}
    blue_requests = {"metric": "RequestCount", "target_group": "blue", "statistic": "Sum"}
    store = _store(
        # minute 0: green 2 errors in 10 requests; blue, on the load balancer, 30 more
        [(GREEN, 500, 2), (GREEN, 200, 8), (BLUE, 500, 20), (BLUE, 200, 10)],
        [(GREEN, 200, 4)],  # minute 1: no green error, so A has no datapoint
        [(GREEN, 500, 1)],  # minute 2: no blue request, so blue's RequestCount is 0
    )
    alarm = _alarm(store, **_ratio(errors, requests), evaluation_periods=1)
    assert alarm.values(180.0) == [pytest.approx(20.0), None, pytest.approx(100.0)]
    # B is 0: no datapoint (and no division by zero)
    alarm = _alarm(store, **_ratio(errors, blue_requests), evaluation_periods=1)
    assert alarm.values(180.0) == [pytest.approx(100 * 2 / 30), None, None]
    # A present, B missing (a count that is zero is not reported): no datapoint either
    blue_errors = {"metric": "HTTPCode_Target_5XX_Count", "target_group": "blue"}
    alarm = _alarm(store, **_ratio(errors, blue_errors), evaluation_periods=1)
    assert alarm.values(180.0) == [pytest.approx(100 * 2 / 20), None, None]
    # Each input is read with its own statistic: the Average of a count is 1 per request.
    average = dict(requests, statistic="Average")
    alarm = _alarm(store, **_ratio(errors, average), evaluation_periods=1)
    assert alarm.values(180.0)[0] == pytest.approx(100 * 2 / 1)


# -- alarms: evaluation ---------------------------------------------------------------------


def test_the_alarm_applies_m_of_n():
    # three real datapoints, two of them above 5: ALARM with 2 of 3, OK with 3 of 3
    store = _requests(10, 1, 10)
    spec = {"metric": "RequestCount", "statistic": "Sum", "threshold": 5, "evaluation_periods": 3}
    assert _alarm(store, **spec, datapoints_to_alarm=2).evaluate(180.0) == "ALARM"
    assert _alarm(store, **spec, datapoints_to_alarm=3).evaluate(180.0) == "OK"
    assert _alarm(store, **spec).evaluate(180.0) == "OK"  # M defaults to N


def test_the_alarm_treats_missing_data_as_configured_and_ignore_keeps_its_state():
    spec = {"metric": "HTTPCode_Target_5XX_Count", "statistic": "Sum", "evaluation_periods": 2}
    quiet = _requests(10, 10, 10, 10)  # no error at all: every 5XX datapoint is missing
    assert _alarm(quiet, **spec).evaluate(240.0) == "INSUFFICIENT_DATA"
    assert _alarm(quiet, **spec, treat_missing_data="breaching").evaluate(240.0) == "ALARM"
    assert _alarm(quiet, **spec, treat_missing_data="notBreaching").evaluate(240.0) == "OK"
    # errors in minutes 0 and 1, then none: under ignore the alarm stays in ALARM
    store = _store([(BLUE, 500, 3)], [(BLUE, 500, 3)], [], [], [], [], [], [])
    alarm = _alarm(store, **spec, treat_missing_data="ignore")
    assert [alarm.evaluate(60.0 * k) for k in (2, 8)] == ["ALARM", "ALARM"]


def test_a_transition_is_in_the_alarm_history_and_the_events_with_its_old_state():
    raw = {
        "duration": 420,
        "load": {"rps": 20},
        "service": service(2, mean=0.01, startup=10),
        "blue": {"error_rate": 0.05},
        "alarms": [
            {
                "name": "blue-5xx",
                "metric": "HTTPCode_Target_5XX_Count",
                "target_group": "blue",
                "statistic": "Sum",
                "threshold": 100,
            },
        ],
        # about 60 errors a minute, and 1,200 during a two-minute fault
        "faults": [
            {"kind": "error_rate", "revision": "blue", "at": 150, "duration": 120, "error_rate": 1}
        ],
        "load_balancer": {"health_check": health_checks(10)},
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    history = res.alarms
    # OK, ALARM during the fault, OK again: each transition from the state the previous reached
    assert list(history["new_state"]) == ["OK", "ALARM", "OK"]
    assert history["old_state"].iloc[0] == "INSUFFICIENT_DATA"
    assert list(history["old_state"].iloc[1:]) == list(history["new_state"].iloc[:-1])
    events = res.events[res.events["source"] == "cloudwatch"]
    assert list(events["time_s"]) == list(history["time_s"])
    assert list(events["event"]) == [f"alarm {s}" for s in history["new_state"]]
    for detail, old, new in zip(
        events["detail"], history["old_state"], history["new_state"], strict=True
    ):
        assert detail.startswith(f"blue-5xx: {old} → {new}; datapoints [")


# -- faults ---------------------------------------------------------------------------------


def _events(result, source: str, event: str | None = None):
    ev = result.events
    sel = ev["source"] == source
    if event is not None:
        sel &= ev["event"] == event
    return ev[sel]


def test_each_fault_is_reported_numbered_with_its_revisions_and_parameters():
    raw = {
        "duration": 240,
        "load": {"rps": 10},
        "service": service(2, mean=0.01, startup=10),
        "load_balancer": {"health_check": health_checks(10)},
        "faults": [
            {"kind": "error_rate", "revision": "blue", "at": 30, "duration": 60, "error_rate": 0.5},
            {"kind": "dependency_outage", "at": 60, "duration": 30, "error_rate": 0.2},
            {"kind": "latency", "revision": "blue", "at": 90, "multiply": 3, "add": 0.1},
            {"kind": "crash", "revision": "blue", "at": 120},
            {"kind": "crash_loop", "revision": "blue", "at": 180, "uptime": constant(5)},
            {"kind": "health_check", "revision": "blue", "at": 200, "probability": 0.001},
            {"kind": "slow_leak", "revision": "blue", "at": 210, "growth": 0.1, "fraction": 0.5},
        ],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    started = _events(res, "fault", "fault started")
    assert list(started["time_s"]) == [30, 60, 90, 120, 180, 200, 210]
    assert list(started["detail"]) == [
        "#1 error_rate on blue: error rate 50.0%",
        "#2 dependency_outage on blue/green: error rate 20.0%",
        "#3 latency on blue: latency ×3 +100ms",
        "#4 crash on blue",
        "#5 crash_loop on blue",
        "#6 health_check on blue: probes fail with p=0.001",
        "#7 slow_leak on blue: +100ms per minute of age, 50% of tasks",
    ]
    ended = _events(res, "fault", "fault ended")
    assert list(zip(ended["time_s"], ended["detail"], strict=True)) == [
        (90, "#1 error_rate on blue"),
        (90, "#2 dependency_outage on blue/green"),
    ]
    # a task stopped by a fault says which
    stopped = _events(res, "ecs", "task stopped")
    crashed = stopped[stopped["time_s"] == 120]
    assert len(crashed) == 2
    assert crashed["detail"].str.endswith(": crashed (fault #4 crash on blue)").all()
    looped = stopped[stopped["time_s"] == 185]
    assert len(looped) >= 1
    assert looped["detail"].str.endswith(": crash loop (#5 crash_loop on blue)").all()


def test_a_fault_reaches_the_tasks_still_draining():
    # After full traffic blue drains for the full deregistration delay (keep-alive clients).
    # A crash loop on blue that starts meanwhile crashes the draining tasks too: they still run.
    raw = {
        "duration": 600,
        "load": {"rps": 10},
        "service": service(2, mean=0.01, startup=10),
        "load_balancer": {
            "health_check": health_checks(10, healthy_threshold=2),
            "deregistration_delay": 300,
        },
        "deployment": {"controller": "steps", "start": 60, "steps": [{"weight": 100}]},
        "faults": [
            {
                "kind": "crash_loop",
                "revision": "blue",
                "after": "full_traffic",
                "at": 10,
                "uptime": constant(20),
            }
        ],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    full = res.summary["full_traffic_s"]
    stopped = _events(res, "ecs", "task stopped")
    blue = stopped[stopped["detail"].str.startswith("blue-")]
    # stopped by the crash 30 s after full traffic, not at the end of the 300 s delay (the
    # reason stays the one they were draining for)
    assert len(blue) == 2
    assert (blue["time_s"] == full + 30).all()


def test_a_slow_leak_crash_comes_crash_after_its_start_even_under_a_second():
    raw = {
        "duration": 120,
        "load": {"rps": 10},
        "service": service(1, mean=0.01, startup=10),
        "load_balancer": {"health_check": health_checks(10)},
        "faults": [{"kind": "slow_leak", "revision": "blue", "at": 30, "crash_after": 0.5}],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    stopped = _events(res, "ecs", "task stopped")
    assert stopped["time_s"].iloc[0] == 30.5
    assert "out of memory" in stopped["detail"].iloc[0]


def test_a_slow_leak_without_crash_after_only_slows_the_task_down():
    raw = {
        "duration": 300,
        "load": {"rps": 5, "arrivals": "uniform"},
        "service": {"tasks": 1, "concurrency": 10, "latency": constant(0.01)},
        "load_balancer": {"health_check": health_checks(10)},
        "faults": [{"kind": "slow_leak", "revision": "blue", "at": 60, "growth": 0.1}],
    }
    res = simulate(scenario_from_dict(raw), seed=1, record_requests=True)
    assert _events(res, "ecs", "task stopped").empty  # no crash
    req = res.requests
    # service time grows by growth per minute since the later of the task's and the fault's
    # start: 10 ms before the fault, about 10 + 100 ms a minute after it
    before = req[req["arrival_s"] < 60]["latency_ms"]
    after = req[(req["arrival_s"] >= 120) & (req["arrival_s"] < 121)]["latency_ms"]
    assert before.max() == pytest.approx(10.0)
    assert after.to_numpy() == pytest.approx(110.0, rel=0.02)


# -- Fargate: replacing unhealthy and crashed tasks -----------------------------------------


def _replacement_run(policy: str, faults: list[dict]):
    raw = {
        "duration": 400,
        "load": {"rps": 10},
        "service": service(2, mean=0.01, startup=60),
        "load_balancer": {
            "health_check": health_checks(10, healthy_threshold=2),
            "deregistration_delay": 120,
        },
        "deployment": {
            "controller": "steps",
            "start": 0,
            "steps": [{"weight": 100}],
            "task_set_replacement": policy,
        },
        "faults": faults,
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    return res, res.summary["full_traffic_s"]


def _green(events):
    return events[events["detail"].str.startswith("green-")]


def test_stop_first_drains_an_unhealthy_task_and_starts_its_replacement_at_once():
    res, full = _replacement_run(
        "stop_first",
        [
            # every green target fails its checks for 30 s after full traffic
            {"kind": "health_check", "after": "full_traffic", "at": 0, "duration": 30},
            # the drained tasks crash while draining; later the replacements crash
            {"kind": "crash", "after": "full_traffic", "at": 60},
            {"kind": "crash", "after": "full_traffic", "at": 100},
        ],
    )
    unhealthy = _green(_events(res, "alb", "target unhealthy"))
    assert len(unhealthy) == 2
    t = unhealthy["time_s"].iloc[0]
    assert (unhealthy["time_s"] == t).all()
    draining = _green(_events(res, "alb", "target draining"))
    started = _green(_events(res, "ecs", "task provisioning"))
    assert list(draining["time_s"]) == [t, t]
    assert list(started["time_s"]) == [0, 0, t, t, full + 100, full + 100]
    # the tasks drained for failing their checks are reported so under both policies
    stopped = _green(_events(res, "ecs", "task stopped"))
    first = stopped[stopped["time_s"] == full + 60]
    assert list(first["detail"]) == [
        "green-1: unhealthy: failed ELB health checks",
        "green-2: unhealthy: failed ELB health checks",
    ]
    # A task that crashes while draining has its replacement already: none more starts.
    # A running task that crashes is replaced at once (stop first: no reconciling later).
    second = stopped[stopped["time_s"] == full + 100]
    assert second["detail"].str.contains("crashed").all() and len(second) == 2


def test_replace_first_marks_an_unhealthy_task_once_and_stops_it_when_a_replacement_is_healthy():
    res, full = _replacement_run(
        "replace_first",
        [
            # green fails its checks, recovers, and fails again while it is marked
            {"kind": "health_check", "after": "full_traffic", "at": 0, "duration": 30},
            {"kind": "health_check", "after": "full_traffic", "at": 50, "duration": 30},
        ],
    )
    unhealthy = _green(_events(res, "alb", "target unhealthy"))
    assert len(unhealthy) == 4  # each of the two targets, twice
    t = unhealthy["time_s"].iloc[0]
    assert t > full
    # marked once, at the first failure; the replacements start then
    marked = _events(res, "ecs", "task marked for replacement")
    assert list(zip(marked["time_s"], marked["detail"], strict=True)) == [
        (t, "green-1: unhealthy"),
        (t, "green-2: unhealthy"),
    ]
    started = _green(_events(res, "ecs", "task provisioning"))
    assert list(started["time_s"]) == [0, 0, t, t]
    # the marked tasks drain as the replacements become healthy, and stop for that reason
    healthy = _green(_events(res, "alb", "target healthy"))
    ready = healthy[healthy["detail"].str.match(r"green-[34]:")]["time_s"]
    draining = _green(_events(res, "alb", "target draining"))
    assert list(draining["time_s"]) == list(ready)
    stopped = _green(_events(res, "ecs", "task stopped"))
    assert list(stopped["detail"]) == [
        "green-1: unhealthy: failed ELB health checks",
        "green-2: unhealthy: failed ELB health checks",
    ]


# -- CloudWatch metrics: the store's datapoints ---------------------------------------------


def _latency_store(batches, horizon: float = 600.0) -> MetricStore:
    """A store fed with batches of (response time, status, revision, latency in seconds)."""
    store = MetricStore(horizon)
    for batch in batches:
        resp, status, rev, lat = (np.asarray(c) for c in zip(*batch, strict=True))
        store.add(
            resp.astype(float),
            status.astype(np.int16),
            rev.astype(np.int8),
            lat.astype(float),
            hist_bucket(lat * 1000.0),
        )
    return store


def test_host_counts_are_the_statistics_of_the_samples_per_target_group():
    store = MetricStore(600.0)
    # one sample per window: blue (healthy, unhealthy), green (healthy, unhealthy)
    # (the counts change inside the 10-s buckets [10, 20) and [40, 50))
    samples = [((3, 0), (0, 2))] * 3 + [((2, 1), (1, 1))] * 6 + [((4, 0), (2, 0))] * 3
    for k, counts in enumerate(samples):
        store.sample_hosts(5.0 * k, 5.0 * k + 5, list(counts))
    blue, green = 1, 2
    for dim, g in ((blue, 0), (green, 1)):
        healthy = np.array([c[g][0] for c in samples], float)
        unhealthy = np.array([c[g][1] for c in samples], float)
        for metric, x in (("HealthyHostCount", healthy), ("UnHealthyHostCount", unhealthy)):
            point = {st: store.datapoint(metric, dim, st, 0, 60) for st in STATS}
            assert point == pytest.approx(
                {
                    "Average": x.mean(),
                    "Minimum": x.min(),
                    "Maximum": x.max(),
                    "Sum": x.sum(),
                    "SampleCount": len(x),
                }
            )
            # no per-sample distribution is kept: a percentile is the mean
            assert store.datapoint(metric, dim, "p90", 0, 60) == pytest.approx(x.mean())
            # the minutes before and after the samples have none: missing
            assert store.datapoint(metric, dim, "Average", 60, 120) is None
    # per 10-s bucket: [10, 20) holds one window of (3, 0) and one of (2, 1)
    assert store.datapoint("HealthyHostCount", blue, "Sum", 10, 20) == 5
    assert store.datapoint("HealthyHostCount", blue, "SampleCount", 10, 20) == 2
    assert store.datapoint("UnHealthyHostCount", blue, "Maximum", 20, 30) == 1


STATS = ("Average", "Minimum", "Maximum", "Sum", "SampleCount")


def test_count_statistics_each_request_a_sample_of_one_and_zero_requests_reported_as_zero():
    store = _store([(BLUE, 200, 7), (BLUE, 500, 3)])
    for metric, n in (("RequestCount", 10), ("HTTPCode_Target_5XX_Count", 3)):
        got = {st: store.datapoint(metric, 0, st, 0, 60) for st in STATS}
        assert got == {"Average": 1, "Minimum": 1, "Maximum": 1, "Sum": n, "SampleCount": n}
    # a minute without requests: RequestCount's Sum and SampleCount are 0, the rest missing
    got = {st: store.datapoint("RequestCount", 0, st, 60, 120) for st in STATS}
    assert got == {"Average": None, "Minimum": None, "Maximum": None, "Sum": 0, "SampleCount": 0}
    assert store.datapoint("HTTPCode_Target_5XX_Count", 0, "Sum", 60, 120) is None
    # a period that starts before the run has no datapoint
    assert store.datapoint("RequestCount", 0, "Sum", -60, 0) is None


def test_target_response_time_from_target_responses_only_per_group_and_period():
    store = _latency_store(
        [
            [
                (5.0, 200, BLUE, 0.010),
                (6.0, 500, BLUE, 0.030),
                (7.0, 200, GREEN, 0.200),
                (8.0, 502, GREEN, 9.000),  # ELB errors have no target response time
                (9.0, 504, BLUE, 60.0),
            ],
            [(65.0, 200, BLUE, 0.050), (70.0, 200, BLUE, 0.070)],
        ]
    )
    lb, blue, green = 0, 1, 2
    trt = "TargetResponseTime"
    assert store.datapoint(trt, blue, "Average", 0, 60) == pytest.approx(0.020)
    assert store.datapoint(trt, blue, "Minimum", 0, 60) == pytest.approx(0.010)
    assert store.datapoint(trt, blue, "Maximum", 0, 60) == pytest.approx(0.030)
    assert store.datapoint(trt, blue, "SampleCount", 0, 60) == 2
    assert store.datapoint(trt, green, "Maximum", 0, 60) == pytest.approx(0.200)
    assert store.datapoint(trt, lb, "Average", 0, 60) == pytest.approx(0.080)
    assert store.datapoint(trt, lb, "Sum", 0, 120) == pytest.approx(0.36)
    # percentiles from the histograms of the right group and period (1 % buckets)
    assert store.datapoint(trt, green, "p50", 0, 60) == pytest.approx(0.200, rel=0.01)
    assert store.datapoint(trt, blue, "p99", 0, 60) == pytest.approx(0.030, rel=0.01)
    assert store.datapoint(trt, lb, "p99", 0, 60) == pytest.approx(0.200, rel=0.01)
    assert store.datapoint(trt, blue, "p50", 60, 120) == pytest.approx(0.050, rel=0.01)
    assert store.datapoint(trt, blue, "p100", 0, 120) == pytest.approx(0.070, rel=0.01)
    assert store.datapoint(trt, green, "p50", 60, 120) is None  # no green response
    assert store.datapoint(trt, green, "Average", 60, 120) is None


def test_histograms_merge_batches_in_any_order_and_a_later_batch_updates_a_percentile():
    # batches of a later period first, then of an earlier one, then of a period in between
    late = [(125.0 + k, 200, BLUE, 0.5) for k in range(10)]
    early = [(5.0 + k, 200, BLUE, 0.01) for k in range(10)]
    store = _latency_store([late, early])
    trt = "TargetResponseTime"
    assert store.datapoint(trt, 1, "p50", 0, 60) == pytest.approx(0.01, rel=0.01)
    assert store.datapoint(trt, 1, "p50", 120, 180) == pytest.approx(0.5, rel=0.01)
    assert store.datapoint(trt, 1, "p90", 0, 180) == pytest.approx(0.5, rel=0.01)
    assert store.datapoint(trt, 1, "p50", 0, 180) == pytest.approx(0.01, rel=0.01)
    store2 = _latency_store([early, late])  # in time order
    for start, end in ((0, 60), (60, 120), (120, 180), (0, 180), (10, 130)):
        for q in ("p10", "p50", "p90"):
            assert store.datapoint(trt, 1, q, start, end) == store2.datapoint(trt, 1, q, start, end)
    # the same question again after another batch: the answer includes it
    more = [(65.0 + k, 200, BLUE, 2.0) for k in range(30)]
    resp, status, rev, lat = (np.asarray(c) for c in zip(*more, strict=True))
    store.add(resp, status.astype(np.int16), rev.astype(np.int8), lat, hist_bucket(lat * 1e3))
    assert store.datapoint(trt, 1, "p50", 0, 180) == pytest.approx(2.0, rel=0.01)


def test_the_store_grows_past_its_horizon():
    store = _latency_store([[(5.0, 200, BLUE, 0.1)], [(4000.0, 500, GREEN, 0.3)]], horizon=60.0)
    assert store.datapoint("RequestCount", 0, "Sum", 0, 60) == 1
    assert store.datapoint("RequestCount", 2, "Sum", 3960, 4020) == 1
    assert store.datapoint("TargetResponseTime", 2, "p50", 3960, 4020) == pytest.approx(0.3, 0.01)
    assert store.datapoint("RequestCount", 0, "Sum", 9000, 9060) == 0
    store.sample_hosts(5000.0, 5001.0, [(2, 0), (1, 1)])
    assert store.datapoint("UnHealthyHostCount", 2, "Maximum", 4980, 5040) == 1


def test_the_metrics_frame_is_every_reported_datapoint_of_every_period():
    store = _latency_store(
        [[(5.0, 200, BLUE, 0.01), (6.0, 500, GREEN, 0.02), (7.0, 503, BLUE, 0.0)]]
    )
    store.sample_hosts(0.0, 60.0, [(2, 0), (1, 0)])
    frame = metrics_frame(store, 120.0)
    got = {(r.time_s, r.dimension, r.metric, r.statistic): r.value for r in frame.itertuples()}
    expected = {}
    stats = {m: ("Sum",) for m in COUNTS}
    stats["TargetResponseTime"] = ("Average", "Maximum", "p50", "p99")
    stats["HealthyHostCount"] = ("Average", "Minimum")
    stats["UnHealthyHostCount"] = ("Average", "Maximum")
    for t in (0.0, 60.0):
        for d, dim in enumerate(DIMENSIONS):
            for metric, sts in stats.items():
                lb_only = metric.startswith("HTTPCode_ELB")
                if (d == 0 and "Host" in metric) or (d != 0 and lb_only):
                    continue  # host counts per target group, ELB codes per load balancer
                for st in sts:
                    v = store.datapoint(metric, d, st, t, t + 60)
                    if v is not None:
                        expected[(t, dim, metric, st)] = v
    assert got == expected
    # what that is, for the first minute
    assert got[(0.0, "load_balancer", "HTTPCode_ELB_503_Count", "Sum")] == 1
    assert got[(0.0, "green", "HTTPCode_Target_5XX_Count", "Sum")] == 1
    assert got[(0.0, "blue", "HealthyHostCount", "Minimum")] == 2
    assert got[(0.0, "green", "UnHealthyHostCount", "Maximum")] == 0
    assert got[(60.0, "load_balancer", "RequestCount", "Sum")] == 0
    assert (0.0, "blue", "HTTPCode_ELB_503_Count", "Sum") not in got
    assert (0.0, "load_balancer", "HealthyHostCount", "Average") not in got
    assert (60.0, "green", "TargetResponseTime", "Average") not in got


def _blue_stop(stop_timeout: float, *, busy: bool):
    """One blue task, drained with no deregistration delay as green takes all traffic."""
    raw = {
        "duration": 300,
        # busy: a 50-s request every 10 s, so blue holds queued work when it is drained
        "load": {"rps": 0.1 if busy else 0.0001, "arrivals": "uniform"},
        "service": {
            "tasks": 1,
            "concurrency": 1,
            "latency": constant(50 if busy else 0.01),
            "startup": constant(10),
            "stop_timeout": stop_timeout,
        },
        "green": {"latency": constant(0.01)},
        "load_balancer": {
            "health_check": health_checks(10, healthy_threshold=2),
            "deregistration_delay": 0,
        },
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100}]},
    }
    res = simulate(scenario_from_dict(raw), seed=1, record_requests=True)
    ev = res.events
    blue = ev[ev["detail"].str.startswith("blue-1")]
    deregistered = blue[(blue["source"] == "alb") & (blue["event"] == "target deregistered")]
    drained = deregistered["time_s"].iloc[0]
    stopping = blue[blue["event"] == "task stopping"]
    stopped = blue[blue["event"] == "task stopped"]["time_s"].iloc[0]
    # one at a time, back to back from the first: its accepted work ends 50 s per request later
    req = res.requests
    on_blue = req[req["task"] == "blue-1"]
    work_done = on_blue["start_s"].min() + 50 * len(on_blue) if busy else None
    return drained, stopping, stopped, work_done


def test_a_drained_task_gets_sigterm_and_exits_when_idle_or_at_the_stop_timeout():
    # work left: SIGTERM, then killed at the stop timeout...
    drained, stopping, stopped, work_done = _blue_stop(2, busy=True)
    assert work_done > drained + 2
    assert list(zip(stopping["source"], stopping["time_s"], stopping["detail"], strict=True)) == [
        ("ecs", drained, "blue-1: SIGTERM, stop timeout 2s")
    ]
    assert stopped == drained + 2
    # ...or exits as soon as its work is done, if that comes first
    drained, stopping, stopped, work_done = _blue_stop(120, busy=True)
    assert len(stopping) == 1 and drained < work_done < drained + 120
    assert stopped == pytest.approx(work_done, abs=0.05)  # and a few 5-ms probes between
    # nothing left to do: it stops at once, no SIGTERM wait
    drained, stopping, stopped, _ = _blue_stop(2, busy=False)
    assert stopping.empty and stopped == drained


@pytest.mark.parametrize("desired", [400, 401, 402, 1000])
def test_the_circuit_breaker_threshold_is_at_most_200(desired):
    # BOUNDED_PERCENT 50: clamp(ceil(0.5 x desired), 3, 200) (ECS API)
    assert circuit_breaker_threshold(desired) == 200


def test_green_tasks_stopped_for_failing_their_checks_count_for_the_circuit_breaker():
    # Green never passes a health check: ECS stops the unhealthy tasks (replacement first, then
    # one by one when maximumPercent leaves no room), and each is a failed launch (ECS API).
    raw = {
        "duration": 900,
        "load": {"rps": 5},
        "service": service(2, mean=0.01, startup=10),
        "load_balancer": {
            "health_check": health_checks(10, healthy_threshold=2),
            "deregistration_delay": 10,
        },
        "deployment": {"controller": "ecs", "start": 0, "bake_time": "2m"},
        "faults": [{"kind": "health_check", "after": "green_running", "at": 0}],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    s = res.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    counted = res.events[res.events["event"] == "circuit breaker count"]
    assert list(counted["detail"].str.extract(r"(\d)/3")[0]) == ["1", "2", "3"]


# -- faults: an outside listener change -----------------------------------------------------


def _listener_reset(step_pause: str, **fault) -> dict:
    """Steps 50 % then 100 %; an outside change resets the rule to blue 20 s after the first."""
    return {
        "duration": 300,
        "load": {"rps": 10, "arrivals": "uniform"},
        "service": service(2, mean=0.01, startup=10),
        "load_balancer": {"health_check": health_checks(10, healthy_threshold=2)},
        "deployment": {
            "controller": "steps",
            "start": 0,
            "steps": [{"weight": 50, "pause": step_pause}, {"weight": 100}],
        },
        "faults": [
            {"kind": "listener_reset", "after": "production_traffic", "at": 20, **fault},
        ],
    }


def _shifts(result):
    ev = _events(result, "alb", "production traffic shifted")
    return list(zip(ev["time_s"], ev["detail"], strict=True))


def test_a_listener_reset_is_reported_and_undone_when_it_ends_if_nobody_moved_the_rule():
    res = simulate(scenario_from_dict(_listener_reset("5m", duration=30)), seed=1)
    first = _shifts(res)[0][0]
    assert _shifts(res) == [
        (first, "green 50% / blue 50% (step 1)"),
        (first + 20, "green 0% / blue 100% (outside change, fault #1 listener_reset)"),
        (
            first + 50,
            "green 50% / blue 50% (listener rule restored after fault #1 listener_reset)",
        ),
    ]
    faults = _events(res, "fault")
    assert list(zip(faults["time_s"], faults["event"], faults["detail"], strict=True)) == [
        (first + 20, "fault started", "#1 listener_reset: listener rule reset to green 0%"),
        (first + 50, "fault ended", "#1 listener_reset"),
    ]


def test_a_listener_reset_is_not_undone_over_a_change_the_controller_made_meanwhile():
    # the controller's next step (100 %) comes 10 s into the 30-s reset: it stays
    res = simulate(scenario_from_dict(_listener_reset("30s", duration=30)), seed=1)
    shifts = _shifts(res)
    first = shifts[0][0]
    assert [(t - first, d.split(" (")[0]) for t, d in shifts] == [
        (0, "green 50% / blue 50%"),
        (20, "green 0% / blue 100%"),
        (30, "green 100% / blue 0%"),
    ]


def test_a_delayed_listener_change_keeps_its_reason():
    raw = _listener_reset("5m")
    raw["load_balancer"]["listener_change_delay"] = 5
    raw["faults"] = []
    res = simulate(scenario_from_dict(raw), seed=1)
    requested = _events(res, "alb", "listener change requested")
    shifts = _shifts(res)
    assert [t + 5 for t in requested["time_s"]] == [t for t, _ in shifts]
    assert shifts[0][1] == "green 50% / blue 50% (step 1)"


def test_a_task_still_starting_when_its_task_set_is_removed_stops_for_that_reason():
    # Blue's tasks crash just before the shift; their replacements take a minute to start,
    # so blue is removed while they are still starting: they stop at once, and say why.
    raw = {
        "duration": 300,
        "load": {"rps": 5},
        "service": service(2, mean=0.01, startup=10),
        "blue": {"startup": constant(60)},
        "load_balancer": {"health_check": health_checks(10, healthy_threshold=2)},
        "deployment": {"controller": "steps", "start": 60, "steps": [{"weight": 100}]},
        "faults": [{"kind": "crash", "revision": "blue", "after": "deployment_start", "at": 5}],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    full = res.summary["full_traffic_s"]
    stopped = _events(res, "ecs", "task stopped")
    starting = stopped[stopped["detail"].str.match(r"blue-[34]:")]
    assert list(starting["time_s"]) == [full, full]
    assert list(starting["detail"]) == ["blue-3: replaced by green", "blue-4: replaced by green"]


def test_a_rolling_rollback_stops_the_tasks_still_starting_at_once():
    # Every new task crashes 5 s after it runs; the first crash trips the breaker (count 1)
    # while the replacements are still starting: the rollback stops them there and then.
    raw = {
        "duration": 300,
        "load": {"rps": 5},
        "service": {
            **service(4, mean=0.01, startup=10),
            "minimum_healthy_percent": 100,
            "maximum_percent": 200,
        },
        "green": {"startup": constant(60)},
        "load_balancer": {"health_check": health_checks(10, healthy_threshold=2)},
        "deployment": {
            "controller": "ecs",
            "strategy": "ROLLING",
            "start": 0,
            "circuit_breaker": {"threshold": {"type": "COUNT", "value": 1}},
        },
        "faults": [{"kind": "crash_loop", "revision": "green", "uptime": constant(5)}],
    }
    res = simulate(scenario_from_dict(raw), seed=1)
    assert res.summary["outcome"] == "ROLLED_BACK"
    ev = _green(_events(res, "ecs"))
    names = ev["detail"].str.extract(r"^(green-\d+)")[0]
    ran = set(names[ev["event"] == "task running"])
    never = ev[~names.isin(ran) & (ev["event"] == "task stopped")]
    crashed = ev[ev["detail"].str.contains("crash loop")]["time_s"].min()
    assert len(never) == 4 and (never["time_s"] == crashed).all()
    assert never["detail"].str.endswith(": replaced (rolling update)").all()  # and say why


def test_counts_of_one_period_add_up_across_finalised_batches():
    """A period's counts are the sum over every batch that finalised responses in it, per
    status class and dimension: two batches into the same 10-s bucket count as one."""
    rng = np.random.default_rng(8)
    statuses = np.array([200, 500, 502, 503, 504])
    batches = []
    # two batches share bucket [0, 10); the third spans [8, 12), its slowest response after 10
    for start in (0.0, 4.0, 8.0):
        n = 40
        resp = start + np.sort(rng.random(n) * 4.0)
        # every class in a different share, so that no two counts coincide
        status = statuses[rng.choice(5, n, p=[0.4, 0.25, 0.05, 0.1, 0.2])].astype(np.int16)
        rev = rng.integers(0, 2, n).astype(np.int8)
        lat = rng.random(n) * 0.3 + 0.001 + 0.5 * (resp >= 10.0)
        batches.append((resp, status, rev, lat))
    store = MetricStore(600.0)
    for resp, status, rev, lat in batches:
        store.add(resp, status, rev.astype(np.int64), lat, hist_bucket(lat * 1e3))
    resp, status, rev, lat = (np.concatenate(c) for c in zip(*batches, strict=True))
    period = resp < 20.0  # the datapoint of [0, 20)
    target = np.isin(status, (200, 500))
    for dim in range(3):
        mine = period if dim == 0 else period & (rev == dim - 1)

        def total(metric, stat="Sum", dim=dim):
            return store.datapoint(metric, dim, stat, 0.0, 20.0)

        assert total("RequestCount") == (mine & (status != 503)).sum()
        assert total("HTTPCode_Target_2XX_Count") == (mine & (status == 200)).sum()
        assert total("HTTPCode_Target_5XX_Count") == (mine & (status == 500)).sum()
        assert total("TargetResponseTime", "SampleCount") == (mine & target).sum()
        assert total("TargetResponseTime", "Maximum") == lat[mine & target].max()
        assert total("TargetResponseTime", "Minimum") == lat[mine & target].min()
        assert total("TargetResponseTime", "Average") == pytest.approx(lat[mine & target].mean())
        if dim == 0:  # the ELB's own errors are reported on the load balancer only
            for code in (502, 503, 504):
                assert total(f"HTTPCode_ELB_{code}_Count") == (mine & (status == code)).sum()
            assert total("HTTPCode_ELB_5XX_Count") == (mine & (status >= 502)).sum()
    # a period of one bucket: the maximum is that bucket's, not the batch's
    first = (resp < 10.0) & target
    second = (resp >= 10.0) & (resp < 20.0) & target
    assert store.datapoint("TargetResponseTime", 0, "Maximum", 0.0, 10.0) == lat[first].max()
    assert store.datapoint("TargetResponseTime", 0, "Minimum", 10.0, 20.0) == lat[second].min()

"""Outcomes and their finalisation, as rules: what a request becomes, and when it is recorded.

A target slower than the idle timeout gives a 504 at the timeout, and a response at exactly the
timeout is in time, whether or not a task has stopped (the two paths of ``outcomes``); a task
whose application does not answer yet refuses at once, as a stopped one does. Alarms,
hooks and the data plane finalise pending requests up to "now" whenever they need fresh
outcomes: two readers at the same instant, or a reader with nothing pending, leave the counts as
one reader would, and each second is recorded in one piece. Test-listener requests report their
own response times to the hook that sent them.
"""

from __future__ import annotations

import numpy as np

from bluegreen_sim import simulate
from bluegreen_sim.scenario import scenario_from_dict


def _scenario(rps: float, alarms: int) -> dict:
    alarm = {
        "metric": "HTTPCode_Target_5XX_Count",
        "target_group": "green",
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 1,
        "threshold": 1000,
        "comparison": "GreaterThanThreshold",
    }
    return {
        "duration": 300,
        "load": {"rps": rps},
        "service": {
            "tasks": 2,
            "concurrency": 4,
            "error_rate": 0.01,
            "latency": {"distribution": "exponential", "mean": 0.05},
            "startup": {"distribution": "constant", "value": 5},
        },
        "deployment": {
            "controller": "steps",
            "start": 30,
            "steps": [{"weight": 50, "pause": "2m"}, {"weight": 100}],
            "alarms": [f"a{i}" for i in range(alarms)],
        },
        "alarms": [dict(alarm, name=f"a{i}") for i in range(alarms)],
    }


def test_two_alarms_reading_outcomes_at_the_same_instant_count_what_one_does():
    one = simulate(scenario_from_dict(_scenario(50, 1), "one"), seed=4)
    two = simulate(scenario_from_dict(_scenario(50, 2), "two"), seed=4)
    for key in ("requests_total", "requests_failed", "requests_blue", "requests_green"):
        assert two.summary[key] == one.summary[key], key
    assert two.summary["requests_total"] > 10_000
    assert (two.timeline["requests_green"] == one.timeline["requests_green"]).all()
    # both alarms went through the states, at the times and on the datapoints, of the one
    history = one.alarms[["time_s", "new_state", "datapoints"]]
    assert len(history) > 0
    for name in ("a0", "a1"):
        mine = two.alarms[two.alarms["alarm"] == name][["time_s", "new_state", "datapoints"]]
        assert mine.reset_index(drop=True).equals(history.reset_index(drop=True)), name


def test_alarms_read_outcomes_when_no_request_is_pending():
    result = simulate(scenario_from_dict(_scenario(0, 2), "idle"), seed=4)
    assert result.summary["requests_total"] == 0
    assert result.summary["outcome"] == "SUCCEEDED"
    # no datapoint, and no evaluation failed on the empty pending set: the alarms stay
    # without data (missing data treated as missing), the CloudWatch counts are zero
    assert set(result.alarms["new_state"]) <= {"INSUFFICIENT_DATA"}
    counts = result.metrics[result.metrics["metric"] == "RequestCount"]
    assert len(counts) > 0 and (counts["value"] == 0).all()


def _timeout_scenario(latency: float, idle_timeout: float, crash_at: float | None) -> dict:
    raw = {
        "duration": 90,
        "load": {"rps": 5, "arrivals": "uniform"},
        "service": {
            "tasks": 4,
            "concurrency": 64,  # no queueing: every response takes exactly the latency
            "latency": {"distribution": "constant", "value": latency},
            "startup": {"distribution": "constant", "value": 5},
        },
        "load_balancer": {"idle_timeout": idle_timeout},
        "deployment": {"controller": "steps", "start": 80, "steps": [{"weight": 100}]},
    }
    if crash_at is not None:  # one blue task stops: outcomes take the path for stopped tasks
        raw["faults"] = [{"kind": "crash", "revision": "blue", "at": crash_at}]
    return raw


def test_a_target_slower_than_the_idle_timeout_gives_504_at_the_timeout():
    result = simulate(
        scenario_from_dict(_timeout_scenario(3.0, 2.0, None), "slow"), seed=1, record_requests=True
    )
    done = result.requests
    assert len(done) > 100
    assert (done["status"] == 504).all()
    assert np.allclose(done["latency_ms"], 2000.0, rtol=0, atol=1e-6)
    assert result.summary["requests_failed"] == len(done)


def test_a_response_at_exactly_the_idle_timeout_is_in_time_whether_or_not_a_task_stopped():
    for crash_at in (None, 10.0):
        raw = _timeout_scenario(2.0, 2.0, crash_at)
        result = simulate(scenario_from_dict(raw, "edge"), seed=1, record_requests=True)
        done = result.requests
        assert len(done) > 100
        assert not (done["status"] == 504).any(), crash_at
        served = done[done["status"] == 200]
        assert np.allclose(served["latency_ms"], 2000.0, rtol=0, atol=1e-6)
        stopped = result.events["event"].eq("task stopped").any()
        assert stopped == (crash_at is not None)


def _hooked(green_latency: float) -> dict:
    return {
        "duration": "12m",
        "load": {"rps": 20},
        "service": {
            "tasks": 2,
            "concurrency": 8,
            "latency": {"distribution": "constant", "value": 0.05},
            "startup": {"distribution": "constant", "value": 10},
        },
        "green": {"latency": {"distribution": "constant", "value": green_latency}},
        "load_balancer": {"test_listener": True},
        "deployment": {
            "controller": "codedeploy",
            "start": "1m",
            "config": "CodeDeployDefault.ECSAllAtOnce",
            "hooks": {
                "AfterAllowTestTraffic": {
                    "kind": "probe",
                    "requests": 50,
                    "rate": 10,
                    "max_error_rate": 0.5,
                    "max_p99": "200ms",
                }
            },
            "termination_wait": "1m",
            "auto_rollback": ["DEPLOYMENT_FAILURE"],
        },
    }


def test_a_test_traffic_hook_judges_the_latency_of_its_own_requests():
    """The hook's p99 is of its requests' response times through the test listener: a green
    answering in 50 ms passes a 200 ms limit, one answering in 300 ms fails it."""
    fast = simulate(scenario_from_dict(_hooked(0.05), "fast"), seed=2)
    slow = simulate(scenario_from_dict(_hooked(0.3), "slow"), seed=2)
    assert fast.summary["outcome"] == "SUCCEEDED"
    assert slow.summary["outcome"] == "ROLLED_BACK"
    hook = slow.events[slow.events["source"] == "hook"]
    assert hook["detail"].str.contains(r"0 errors .*p99 300ms").any()


def test_finalising_up_to_a_second_takes_the_responses_before_it_and_no_later_one():
    """Each second is recorded in one piece: a finalisation up to second 30 takes responses
    before 30.0 and keeps one at exactly 30.0 for the batch that records second 30."""
    from types import SimpleNamespace

    from bluegreen_sim.engine.dataplane import DataPlane
    from bluegreen_sim.engine.outcomes import Outcomes

    recorded = []
    arrival = np.array([29.0, 29.5, 29.9, 29.95])
    finish = np.array([29.999, 30.0, 30.2, 31.0])
    plane = SimpleNamespace(
        idle_timeout=60.0,
        table=SimpleNamespace(columns={"stop_at": np.full(4, np.inf)}, size=4, start_delays=False),
        pending={
            "arrival": arrival,
            "finish": finish,
            "task": np.arange(4),
            "revision": np.zeros(4, np.int8),
            "status": np.full(4, 200, np.int16),
        },
        _chunks=[],
        finalized_until=0.0,
        testing=[],
        flush=lambda: None,
        world=SimpleNamespace(recorder=SimpleNamespace(record=recorded.append), anomaly=None),
    )
    plane.outcomes = lambda p: DataPlane.outcomes(plane, p)
    Outcomes.finalize(plane, 30.7)  # up to the whole second 30
    assert [b["response"].tolist() for b in recorded] == [[29.999]]
    assert plane.pending["finish"].tolist() == [30.0, 30.2, 31.0]
    assert plane.finalized_until == 30
    Outcomes.finalize(plane, 31.0)
    assert recorded[1]["response"].tolist() == [30.0, 30.2]
    assert plane.pending["finish"].tolist() == [31.0]


def test_a_task_not_yet_answering_and_a_stopped_task_both_refuse_at_once():
    """A request that reaches a task before its application answers (ALB failing open to a
    starting task) is refused at its arrival with an ELB 502, as is one that reaches a task
    after it stopped; requests to an answering task keep their own outcome."""
    from types import SimpleNamespace

    from bluegreen_sim.engine.dataplane import DataPlane

    plane = SimpleNamespace(
        idle_timeout=60.0,
        table=SimpleNamespace(
            # task 0 stops at 50 s; task 1 answers from 20 s; task 2 is plain
            columns={
                "stop_at": np.array([50.0, np.inf, np.inf]),
                "ready_at": np.array([0.0, 20.0, 0.0]),
            },
            size=3,
            start_delays=True,
        ),
    )
    rows = [
        (10.0, 12.0, 1, 200),  # starting: refused at 10
        (25.0, 26.0, 1, 500),  # answering by then: its own 500 at 26
        (20.0, 21.0, 1, 200),  # arrives the instant the application answers: served, 200 at 21
        (55.0, 56.0, 0, 200),  # task stopped at 50: refused at 55
        (40.0, 45.0, 0, 200),  # before the stop: 200 at 45
        (40.0, 52.0, 0, 200),  # in flight at the stop: cut, 502 at 50
        (10.0, 11.0, 2, 200),  # plain: 200 at 11
    ]
    a, f, t, s = (np.array(c) for c in zip(*rows, strict=True))
    pending = {"arrival": a, "finish": f, "task": t, "status": s.astype(np.int16)}
    resp, status = DataPlane.outcomes(plane, pending)
    assert status.tolist() == [502, 500, 200, 502, 200, 502, 200]
    assert resp.tolist() == [10.0, 26.0, 21.0, 55.0, 45.0, 50.0, 11.0]

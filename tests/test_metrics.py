"""CloudWatch as the simulation reports it: datapoints against the requests they count, the
not-reported-when-zero rule, statistics, the metric-math ratio, and alarms evaluated on them."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import health_checks, service

from bluegreen_sim import evaluate_alarm
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict

RATIO_ALARM = {
    "name": "green-5xx-ratio",
    "expression": "100 * A / B",
    "metrics": {
        "A": {"metric": "HTTPCode_Target_5XX_Count", "target_group": "green", "statistic": "Sum"},
        "B": {"metric": "RequestCount", "target_group": "green", "statistic": "Sum"},
    },
    "period": 60,
    "evaluation_periods": 2,
    "datapoints_to_alarm": 2,
    "threshold": 5,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


def _scope(fixture_name: str, config: pytest.Config) -> str:
    # mutmut runs, for a mutant, only the tests that called its function; a module fixture
    # calls the model during the first test only, which would hide the others from mutmut.
    return "function" if os.environ.get("MUTANT_UNDER_TEST") else "module"


@pytest.fixture(scope=_scope)
def run():
    sc = scenario_from_dict(
        {
            "name": "metrics",
            "duration": 600,
            "load": {"rps": 40},
            "service": service(3, mean=0.02, startup=10),
            "green": {"error_rate": 0.1},
            "load_balancer": {"health_check": health_checks(10, healthy_threshold=2)},
            "deployment": {
                "controller": "steps",
                "start": 60,
                "steps": [{"weight": 30, "pause": "10m"}, {"weight": 100}],
                "alarms": ["green-5xx-ratio"],
            },
            "alarms": [RATIO_ALARM],
        }
    )
    return simulate(sc, seed=9, record_requests=True)


def datapoint(result, dimension, metric, statistic, minute):
    m = result.metrics
    row = m[
        (m["dimension"] == dimension)
        & (m["metric"] == metric)
        & (m["statistic"] == statistic)
        & (m["time_s"] == minute * 60)
    ]
    return None if row.empty else float(row["value"].iloc[0])


def responses_in(result, minute, revision=None):
    r = result.requests
    sel = (r["finish_s"] >= minute * 60) & (r["finish_s"] < minute * 60 + 60)
    if revision:
        sel &= r["revision"] == revision
    return r[sel]


@pytest.mark.parametrize("minute", [0, 1, 2, 3])
def test_counts_are_the_responses_of_each_minute(run, minute):
    for dim, rev in (("load_balancer", None), ("blue", "blue"), ("green", "green")):
        resp = responses_in(run, minute, rev)
        count = datapoint(run, dim, "RequestCount", "Sum", minute)
        # RequestCount is always reported, even as 0
        assert count == len(resp[resp["status"] != 503])
        errors = int((resp["status"] == 500).sum())
        got = datapoint(run, dim, "HTTPCode_Target_5XX_Count", "Sum", minute)
        # a count that is zero is not reported: the datapoint is missing
        assert got == (errors if errors else None)


def test_target_response_time_statistics(run):
    minute = 3
    resp = responses_in(run, minute, "green")
    lat = resp.loc[resp["status"].isin([200, 500]), "latency_ms"].to_numpy() / 1000
    assert datapoint(run, "green", "TargetResponseTime", "Average", minute) == pytest.approx(
        lat.mean(), rel=1e-9
    )
    assert datapoint(run, "green", "TargetResponseTime", "Maximum", minute) == pytest.approx(
        lat.max(), rel=1e-9
    )
    exact_p99 = np.sort(lat)[int(np.ceil(0.99 * len(lat))) - 1]  # nearest rank
    got = datapoint(run, "green", "TargetResponseTime", "p99", minute)
    assert got == pytest.approx(exact_p99, rel=0.01)  # 1 % histogram buckets


def test_healthy_host_count(run):
    assert datapoint(run, "blue", "HealthyHostCount", "Average", 0) == 3
    assert datapoint(run, "green", "HealthyHostCount", "Average", 0) == 0
    minute = int(run.summary["production_traffic_s"] // 60) + 1
    assert run.summary["rollback_start_s"] >= (minute + 1) * 60
    assert datapoint(run, "green", "HealthyHostCount", "Average", minute) == 3


def test_the_ratio_alarm_sees_100_times_errors_over_requests(run):
    history = run.alarms
    fired = history[history["new_state"] == "ALARM"]
    assert not fired.empty, "green fails 10 % of its requests: the 5 % ratio alarm must fire"
    t = float(fired["time_s"].iloc[0])
    # its last two datapoints are the last two minutes' 100 * 5XX / RequestCount on green
    shown = fired["datapoints"].iloc[0].split(", ")
    for k, text in enumerate(reversed(shown[-2:])):
        minute = int(t // 60) - 1 - k
        resp = responses_in(run, minute, "green")
        served = resp[resp["status"] != 503]
        expected = 100 * (served["status"] == 500).sum() / len(served)
        assert float(text) == pytest.approx(expected, rel=1e-5)  # shown to 6 digits
    # and the transition is exactly what the pure evaluator says for those datapoints
    values = [None if v == "-" else float(v) for v in shown]
    assert (
        evaluate_alarm(
            values,
            threshold=5,
            comparison="GreaterThanThreshold",
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",
            previous_state=fired["old_state"].iloc[0],
        )
        == "ALARM"
    )
    assert run.summary["outcome"] == "ROLLED_BACK"


def test_ratio_is_missing_when_there_are_no_requests(run):
    # Before green has traffic its RequestCount is 0: metric math gives no datapoint.
    first = run.alarms.iloc[0]
    assert first["datapoints"].split(", ")[-1] == "-"


def test_a_publish_delay_makes_the_newest_datapoint_partial_and_detection_later():
    def first_alarm(delay):
        raw = {
            "duration": 400,
            "load": {"rps": 40},
            "service": {"tasks": 2, "latency": {"distribution": "exponential", "mean": 0.02}},
            "blue": {"error_rate": 0.2},
            "cloudwatch": {"publish_delay": delay},
            "alarms": [
                {
                    "name": "blue-5xx",
                    "metric": "HTTPCode_Target_5XX_Count",
                    "target_group": "blue",
                    "statistic": "Sum",
                    "evaluation_periods": 1,
                    "threshold": 300,
                }
            ],
        }
        res = simulate(scenario_from_dict(raw), seed=2)
        fired = res.alarms[res.alarms["new_state"] == "ALARM"].iloc[0]
        return fired["time_s"], fired["datapoints"]

    # About 480 errors a minute. Without a delay the minute [0, 60) is judged at 60 s. With a
    # 30 s delay, at 60 s nothing has arrived; at 120 s the newest minute is still on its way
    # (missing), and the alarm judges the minute before: the evaluation range is wider than N
    # for exactly this.
    t0, shown0 = first_alarm(0)
    t30, shown30 = first_alarm(30)
    assert t0 == 60
    assert float(shown0.split(", ")[-1]) > 300
    assert t30 == 120
    assert shown30.split(", ")[-1] == "-" and float(shown30.split(", ")[-2]) > 300

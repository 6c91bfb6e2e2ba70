"""Finalising outcomes: reading them more often, or with nothing pending, changes nothing.

Alarms, hooks and the data plane itself finalise pending requests up to "now" whenever they
need fresh outcomes; two readers at the same instant, or a reader with no request pending, must
leave the counts as one reader would.
"""

from __future__ import annotations

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

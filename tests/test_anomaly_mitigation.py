"""Automatic target weights: anomaly mitigation with weighted_random routing (issue 9, item 8).

AWS documents that mitigation is off by default, exists only with weighted random routing, judges
a target's percent errors against its peers', needs three healthy targets, and reduces an
anomalous target's traffic step by step every five seconds (``bluegreen_sim/aws/anomaly.py``
cites the text and states the model's undocumented choices). A green in which only some tasks
are bad is the case it is for: those tasks get less traffic and fewer requests fail.
"""

from __future__ import annotations

import pytest

from bluegreen_sim import simulate
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict


def _green(mitigation: bool, fraction: float = 0.3):
    """Eight green tasks take all the traffic at about 16 s; from a minute later a fault makes
    ``fraction`` of them fail half their requests (the application answers 500)."""
    return scenario_from_dict(
        {
            "name": "partly-bad-green",
            "duration": "6m",
            "load": {"rps": 50},
            "service": {"tasks": 8, "startup": {"distribution": "constant", "value": "15s"}},
            "faults": [
                {
                    "kind": "error_rate",
                    "revision": "green",
                    "after": "full_traffic",
                    "at": "60s",
                    "fraction": fraction,
                    "error_rate": 0.5,
                }
            ],
            "load_balancer": {
                "routing": "weighted_random",
                "anomaly_mitigation": mitigation,
                "deregistration_delay": "5s",
                "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
            },
            "deployment": {"controller": "steps", "start": "0s", "steps": [{"weight": 100}]},
        }
    )


@pytest.fixture(scope="module")
def runs():
    return {m: simulate(_green(m), seed=1, record_requests=True) for m in (False, True)}


def _per_task(result, since: float):
    req = result.requests
    green = req[(req["revision"] == "green") & (req["arrival_s"] >= since)]
    return green.groupby("task")["status"].agg(n="size", failed=lambda s: (s != 200).sum())


def test_bad_tasks_get_less_traffic_and_fewer_requests_fail(runs):
    off, on = runs[False], runs[True]
    assert off.summary["requests_total"] == on.summary["requests_total"]  # same traffic
    # The bad tasks, as the run without mitigation shows them (about half their requests fail).
    before = _per_task(off, since=120)
    bad = before.index[before["failed"] > 0.3 * before["n"]]
    good = before.index.difference(bad)
    assert 1 <= len(bad) <= 4
    # Without mitigation weighted random gives every task its equal share.
    assert before.loc[bad, "n"].min() > 0.8 * before.loc[good, "n"].median()
    # With it, each bad task keeps a few per cent of a good task's traffic ...
    after = _per_task(on, since=120)
    assert after.loc[bad, "n"].max() < 0.1 * after.loc[good, "n"].median()
    # ... the good tasks take the rest, and far fewer requests fail.
    assert after.loc[good, "n"].sum() > before.loc[good, "n"].sum()
    assert on.summary["requests_failed"] < 0.2 * off.summary["requests_failed"]
    # Mitigation starts within a few five-second periods of the fault (at about 76 s).
    ev = on.events
    started = ev[ev["event"] == "target anomalous"]
    assert set(started["detail"].str.split(":").str[0]) >= set(bad)
    assert started["time_s"].min() <= 76 + 30


def test_a_fault_on_every_task_is_no_anomaly():
    # Anomalies are relative to the peers: when every target fails alike, none stands out.
    on = simulate(_green(True, fraction=1.0), seed=1)
    off = simulate(_green(False, fraction=1.0), seed=1)
    assert not (on.events["event"] == "target anomalous").any()
    assert on.summary["requests_failed"] == off.summary["requests_failed"]


def test_mitigation_is_for_weighted_random_only():
    raw = {"load_balancer": {"routing": "round_robin", "anomaly_mitigation": True}}
    with pytest.raises(ScenarioError, match=r"anomaly_mitigation.*weighted_random"):
        scenario_from_dict(raw)

"""Health-check probes served in batches give the results of probes served at once (issue 14).

A probe that cannot change its target's state (a healthy target, too few failures so far) is
served with the windows around it and read when the next probe is due. Serving windows in one
pass keeps each window's draws in its own order, so the whole run must be the same, whether or
not such probes are deferred: every count and state the same; times and latencies the same
but for the last bits (the segmented FIFO scan sums service times over the requests of a
batch, so its rounding depends on where batches begin).
"""

from __future__ import annotations

import pandas as pd
import pytest

from bluegreen_sim.engine import dataplane as dp
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict

BASE = {
    "duration": 420,
    "load": {"rps": 120},
    "service": {
        "tasks": 8,
        "latency": {"distribution": "lognormal", "median": "30ms", "p99": "200ms"},
        # staggered start-ups: the targets probe at different instants
        "startup": {"distribution": "uniform", "low": 5, "high": 25},
        "error_rate": 0.01,
    },
    "load_balancer": {"health_check": {"interval": 10, "timeout": 2}},
    "deployment": {
        "controller": "steps",
        "start": 30,
        "steps": [{"weight": 20, "pause": "2m"}, {"weight": 100}],
    },
}

CASES = {
    "default probes": {},
    "probes do a request's work": {"load_balancer.health_check.probe_time": None},
    "probe failures": {
        "faults": [{"kind": "health_check", "revision": "green", "probability": 0.4}]
    },
    "multi-slot least outstanding": {
        "service.concurrency": 3,
        "load_balancer.routing": "least_outstanding_requests",
    },
}


def _run(overrides: dict, deferrable: bool, monkeypatch):
    from bluegreen_sim.scenario import apply_overrides

    raw = apply_overrides(BASE, {k: v for k, v in overrides.items() if k != "faults"})
    if "faults" in overrides:
        raw["faults"] = overrides["faults"]
    init = dp.DataPlane.__init__

    def patched(self, world):
        init(self, world)
        self.probes_deferrable &= deferrable

    with monkeypatch.context() as m:
        m.setattr(dp.DataPlane, "__init__", patched)
        return simulate(scenario_from_dict(raw, "probes"), seed=11)


@pytest.mark.parametrize("case", sorted(CASES))
def test_deferred_probes_change_nothing(case, monkeypatch):
    batched = _run(CASES[case], True, monkeypatch)
    at_once = _run(CASES[case], False, monkeypatch)
    assert batched.summary.keys() == at_once.summary.keys()
    for key, value in batched.summary.items():
        if isinstance(value, float):
            assert value == pytest.approx(at_once.summary[key], rel=1e-12, abs=1e-12), key
        else:
            assert value == at_once.summary[key], key
    for frame in ("timeline", "events", "metrics", "alarms"):
        pd.testing.assert_frame_equal(
            getattr(batched, frame), getattr(at_once, frame), check_exact=False, rtol=1e-12
        )

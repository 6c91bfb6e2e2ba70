"""The compact forms of the run's records (issue 14) say what the full forms say.

Latency histograms are kept as nonzero cells per 10-s bucket and minutes are closed to their
p99, so memory does not grow with the simulated time; here every percentile read from them is
checked against the same percentile computed from the per-request rows of the run.
"""

from __future__ import annotations

import numpy as np
import pytest

from bluegreen_sim.aws.statistics import hist_counts, hist_percentile
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict


@pytest.fixture(scope="module")
def run():
    sc = scenario_from_dict(
        {
            "name": "compact",
            "duration": 420,
            "load": {"rps": 150},
            "service": {
                "tasks": 3,
                "concurrency": 2,
                "error_rate": 0.01,
                "latency": {"distribution": "lognormal", "median": "20ms", "p99": "120ms"},
                "startup": {"distribution": "constant", "value": 10},
            },
            "load_balancer": {"idle_timeout": 1},
            "deployment": {
                "controller": "steps",
                "start": 60,
                "steps": [{"weight": 30, "pause": "2m"}, {"weight": 100}],
            },
        }
    )
    return simulate(sc, seed=5, record_requests=True)


def test_minute_datapoints_equal_the_requests_they_count(run):
    req = run.requests
    target = req[req["status"].isin([200, 500])]
    minute = (target["finish_s"] // 60).astype(int)
    m = run.metrics
    trt = m[m["metric"] == "TargetResponseTime"]
    checked = 0
    for (t, dim, stat), value in trt.set_index(["time_s", "dimension", "statistic"])[
        "value"
    ].items():
        if stat not in ("p50", "p99"):
            continue
        sel = minute == int(t // 60)
        if dim != "load_balancer":
            sel &= target["revision"] == dim
        lat = target.loc[sel, "latency_ms"].to_numpy()
        q = 0.5 if stat == "p50" else 0.99
        # CloudWatch's reading: the bucket's midpoint, clamped to the exact extremes
        expected = min(max(hist_percentile(hist_counts(lat), q), lat.min()), lat.max()) / 1000
        assert value == pytest.approx(expected, rel=1e-12)
        checked += 1
    assert checked >= 2 * 7 + 2 * 6  # every minute on the load balancer and blue, most on green


def test_worst_minute_p99_equals_the_requests(run):
    req = run.requests
    minute = (req["finish_s"] // 60).astype(int).to_numpy()
    lat = req["latency_ms"].to_numpy()
    worst = max(hist_percentile(hist_counts(lat[minute == m]), 0.99) for m in np.unique(minute))
    assert run.summary["worst_minute_p99_ms"] == pytest.approx(worst, rel=1e-12)


def test_bucket_ids_are_hist_bucket():
    from bluegreen_sim.aws.statistics import HIST_EDGES, hist_bucket
    from bluegreen_sim.engine.recorder import bucket_ids

    rng = np.random.default_rng(0)
    edges = HIST_EDGES
    values = np.concatenate(
        [
            rng.lognormal(np.log(40), 2.5, 200_000),
            [0.0, 1e-9, 1e-5, 0.01, 3.6e7, 3.6e7 * 1.02, 1e12],
            edges,
            np.nextafter(edges, 0),
            np.nextafter(edges, np.inf),
        ]
    )
    np.testing.assert_array_equal(bucket_ids(values), hist_bucket(values))

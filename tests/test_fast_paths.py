"""The data plane's shortcuts give the values of the plain computation they replace.

Each shortcut exists for speed (issue 14) and must not change a result: these tests compare it,
on generated inputs, with the obvious form it replaces.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bluegreen_sim.aws.metrics import _extremes
from bluegreen_sim.engine.recorder import bucket_ids

latencies = arrays(
    np.float64,
    st.integers(1, 400),
    elements=st.one_of(
        st.floats(0.0, 5.0, allow_nan=False),
        st.floats(0.0, 4000.0, allow_nan=False),
        st.sampled_from([0.0, 0.001, 0.0010000000000000002, 1.0, 60.0]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(lat=latencies, data=st.data())
def test_extremes_are_the_minimum_and_maximum_per_key(lat, data):
    n_keys = data.draw(st.integers(1, 8))
    key = np.asarray(
        data.draw(st.lists(st.integers(0, n_keys - 1), min_size=len(lat), max_size=len(lat))),
        np.int64,
    )
    ids = bucket_ids(lat * 1000.0)
    lo = int(ids.min())
    width = int(ids.max()) + 1 - lo
    cells = np.bincount(key * width + (ids - lo), minlength=n_keys * width).reshape(n_keys, width)
    low, high = _extremes(cells, lo, key, ids, lat)
    want_low = np.full(n_keys, np.inf)
    want_high = np.full(n_keys, -np.inf)
    np.minimum.at(want_low, key, lat)
    np.maximum.at(want_high, key, lat)
    np.testing.assert_array_equal(low, want_low)
    np.testing.assert_array_equal(high, want_high)


def test_a_process_with_numba_loaded_serves_single_slot_runs_compiled_with_the_same_results(
    monkeypatch,
):
    """Once numba's kernels are loaded (a sweep worker's later runs), single-slot targets are
    served by the compiled scan; the results are those of the numpy scan, bit for bit."""
    import pytest

    from bluegreen_sim import simulate
    from bluegreen_sim.engine import dataplane, kernels
    from bluegreen_sim.scenario import scenario_from_dict

    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    sc = scenario_from_dict(
        {
            "duration": 120,
            "load": {"rps": 200},
            "service": {
                "tasks": 4,
                "concurrency": 1,
                "latency": {"distribution": "exponential", "mean": 0.015},
            },
            "deployment": {"controller": "steps", "start": 30, "steps": [{"weight": 100}]},
        },
        "t",
    )
    init = dataplane.DataPlane.__init__
    runs, scans = {}, []

    def spy(self, world):
        init(self, world)
        scans.append(self._fused_scan)

    monkeypatch.setattr(dataplane.DataPlane, "__init__", spy)
    for loaded in (False, True):
        monkeypatch.setattr(kernels, "ready", lambda loaded=loaded: loaded)
        runs[loaded] = simulate(sc, seed=3)
    assert scans == [False, True]
    assert runs[True].summary == runs[False].summary
    assert runs[True].timeline.equals(runs[False].timeline)
    assert runs[True].metrics.equals(runs[False].metrics)


def _recorder(monkeypatch, compiled: bool):
    import types

    from bluegreen_sim.aws.metrics import MetricStore
    from bluegreen_sim.engine import kernels
    from bluegreen_sim.engine.recorder import Recorder

    monkeypatch.setattr(kernels, "ready", lambda: compiled)
    world = types.SimpleNamespace(
        scenario=types.SimpleNamespace(duration=600.0), metrics=MetricStore(600.0)
    )
    return Recorder(world, record_requests=True)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_finalisation_builds_the_numpy_tables(data):
    """The two compiled passes of ``Recorder.record`` give every table, count and sum of the
    numpy path, exactly: per-second counts, sums, percentiles and histograms, and CloudWatch's
    10-second aggregates and histogram cells."""
    import pytest

    from bluegreen_sim.engine import kernels

    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    batches = []
    t = 0.0
    for _ in range(data.draw(st.integers(1, 4))):
        n = data.draw(st.integers(1, 300))
        span = data.draw(st.sampled_from([0.5, 3.0, 29.0, 90.0]))  # 90 s: past 64 s chunks
        arrival = t + np.sort(
            np.asarray(data.draw(st.lists(st.floats(0, span), min_size=n, max_size=n)))
        )
        latency = np.asarray(
            data.draw(
                st.lists(
                    st.one_of(st.just(0.0), st.floats(0, 0.2), st.floats(0, 40.0)),
                    min_size=n,
                    max_size=n,
                )
            )
        )
        status = np.asarray(
            data.draw(
                st.lists(
                    st.sampled_from([200, 200, 200, 500, 502, 503, 504]), min_size=n, max_size=n
                )
            ),
            np.int16,
        )
        rev = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int8)
        resp = arrival + latency
        batches.append(
            {
                "arrival": arrival,
                "finish": resp,
                "task": np.arange(n),
                "revision": rev,
                "status": status,
                "response": resp,
                "start": arrival,
            }
        )
        t = float(resp.max()) + 1.0
    state = []
    for compiled in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            rec = _recorder(mp, compiled)
            for b in batches:
                rec.record(b)
            state.append(rec)
    numpy_rec, compiled_rec = state
    for name in numpy_rec.sec:
        np.testing.assert_array_equal(compiled_rec.sec[name], numpy_rec.sec[name])
    np.testing.assert_array_equal(compiled_rec.hist, numpy_rec.hist)
    np.testing.assert_array_equal(compiled_rec.status_counts, numpy_rec.status_counts)
    assert compiled_rec.latency_sum == numpy_rec.latency_sum
    assert compiled_rec.minute_p99s() == numpy_rec.minute_p99s()
    a, b = compiled_rec.world.metrics, numpy_rec.world.metrics
    np.testing.assert_array_equal(a.values, b.values)
    assert len(a.hist_batches) == len(b.hist_batches)
    for x, y in zip(a.hist_batches, b.hist_batches, strict=True):
        assert x[:4] == y[:4]
        np.testing.assert_array_equal(x[4], y[4])
        np.testing.assert_array_equal(x[5], y[5])
    for x, y in zip(compiled_rec.request_chunks, numpy_rec.request_chunks, strict=True):
        for key in y:
            np.testing.assert_array_equal(x[key], y[key])


def test_compiled_buckets_are_the_histogram_buckets():
    """The compiled bucket of every latency, edges and their neighbours included, is
    ``hist_bucket``'s."""
    import pytest

    from bluegreen_sim.aws.statistics import HIST_EDGES, hist_bucket
    from bluegreen_sim.engine import kernels
    from bluegreen_sim.engine.recorder import (
        _EDGE_ABOVE,
        _EDGE_BELOW,
        _INV_LOG_RATIO,
        _LOW_MS,
        STATUS_INDEX,
    )

    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(5)
    ms = np.concatenate(
        (
            HIST_EDGES,
            np.nextafter(HIST_EDGES, 0),
            np.nextafter(HIST_EDGES, np.inf),
            np.exp(rng.uniform(-40, 25, 200_000)),
            [0.0, 5e-324, 1e-300, 1e9],
        )
    )
    n = len(ms)
    lat, ids, cat = np.empty(n), np.empty(n, np.int64), np.empty(n, np.int64)
    arrival = np.zeros(n)
    kernels.latency_buckets(
        ms / 1000.0,
        arrival,
        np.full(n, 200, np.int16),
        STATUS_INDEX,
        1.0 / _LOW_MS,
        _INV_LOG_RATIO,
        _EDGE_ABOVE,
        _EDGE_BELOW,
        lat,
        ids,
        cat,
    )
    np.testing.assert_array_equal(ids, hist_bucket(lat * 1000.0))

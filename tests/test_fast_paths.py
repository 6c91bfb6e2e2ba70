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

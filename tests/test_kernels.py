"""The per-request kernels: compiled (numba) and plain Python give identical results, and the
multi-slot FIFO kernel agrees with an obvious heap-based queue."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from bluegreen_sim.engine import kernels


def plain(fn):
    """The plain-Python version of a kernel (numba keeps it as ``py_func``)."""
    return getattr(fn, "py_func", fn)


def fifo_inputs(seed, n_tasks=4, width=3, n=400):
    rng = np.random.default_rng(seed)
    task = np.sort(rng.integers(0, n_tasks, n))
    times = np.concatenate([np.sort(rng.uniform(0, 10, (task == k).sum())) for k in range(n_tasks)])
    svc = rng.exponential(0.2, n)
    slots = np.full((n_tasks, width), np.inf)
    for k in range(n_tasks):
        slots[k, : rng.integers(1, width + 1)] = rng.uniform(0, 1)
    return times, svc, task, slots


@pytest.mark.parametrize("seed", range(5))
def test_fifo_slots_matches_a_heap_queue(seed):
    times, svc, task, slots = fifo_inputs(seed)
    expected = np.empty(len(times))
    heaps = {k: sorted(v for v in slots[k] if np.isfinite(v)) for k in range(len(slots))}
    for i, (a, s, k) in enumerate(zip(times, svc, task, strict=True)):
        free = heapq.heappop(heaps[k])
        expected[i] = max(a, free)
        heapq.heappush(heaps[k], expected[i] + s)
    start = np.empty(len(times))
    kernels.fifo_slots(times, svc, task, slots.copy(), start)
    np.testing.assert_array_equal(start, expected)


@pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("seed", range(3))
def test_compiled_and_plain_kernels_agree_exactly(seed):
    times, svc, task, slots = fifo_inputs(seed)
    a, b = np.empty(len(times)), np.empty(len(times))
    s1, s2 = slots.copy(), slots.copy()
    kernels.fifo_slots(times, svc, task, s1, a)
    plain(kernels.fifo_slots)(times, svc, task, s2, b)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s1, s2)

    rng = np.random.default_rng(seed)
    n, n_tasks = 500, 5
    t = np.sort(rng.uniform(0, 20, n))
    base = rng.exponential(0.3, n)
    fixed = np.where(rng.random(n) < 0.05, rng.integers(0, n_tasks, n), -1)
    args = dict(
        candidates=np.arange(n_tasks, dtype=np.int64),
        mul=np.ones(n_tasks),
        add=np.zeros(n_tasks),
        growth=np.zeros(n_tasks),
        since=np.zeros(n_tasks),
    )
    outs = []
    for fn in (kernels.least_outstanding, plain(kernels.least_outstanding)):
        svc = base.copy()
        sl = np.zeros((n_tasks, 2))
        out_n = np.zeros(n_tasks, np.int64)
        ht, hk, state = np.zeros(n + 1), np.zeros(n + 1, np.int64), np.zeros(2, np.int64)
        st, chosen = np.empty(n), np.empty(n, np.int64)
        fn(
            t,
            svc,
            fixed,
            args["candidates"],
            args["mul"],
            args["add"],
            args["growth"],
            args["since"],
            sl,
            out_n,
            ht,
            hk,
            state,
            st,
            chosen,
        )
        outs.append((st, chosen, sl, out_n, state))
    for x, y in zip(*outs, strict=True):
        np.testing.assert_array_equal(x, y)


def test_least_outstanding_picks_the_least_busy_target():
    # Two targets, one slot each; three requests at once: 0 → A, 1 → B (A busy), 2 → A (tie,
    # turn moved past B), and the outstanding counts follow.
    t = np.array([0.0, 0.0, 0.0, 5.0])
    svc = np.array([1.0, 1.0, 1.0, 1.0])
    fixed = np.full(4, -1, np.int64)
    cand = np.array([0, 1], np.int64)
    slots = np.zeros((2, 1))
    outstanding = np.zeros(2, np.int64)
    ht, hk, state = np.zeros(8), np.zeros(8, np.int64), np.zeros(2, np.int64)
    st, chosen = np.empty(4), np.empty(4, np.int64)
    kernels.least_outstanding(
        t,
        svc,
        fixed,
        cand,
        np.ones(2),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        slots,
        outstanding,
        ht,
        hk,
        state,
        st,
        chosen,
    )
    assert list(chosen) == [0, 1, 0, 1]
    assert list(st) == [0.0, 0.0, 1.0, 5.0]
    # at t=5 every earlier request is done: only the last is outstanding
    assert list(outstanding) == [0, 1]


def test_fused_single_slot_scan_is_the_vectorised_scan_bit_for_bit():
    """The compiled scan does numpy's operations in numpy's order: identical start times."""
    from bluegreen_sim.engine import dataplane as dp
    from bluegreen_sim.engine import kernels
    from bluegreen_sim.engine.tasktable import TaskTable

    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(1)
    for trial in range(60):
        n, m = int(rng.integers(1, 3000)), int(rng.integers(1, 40))
        time = np.sort(rng.random(n) * rng.uniform(0.1, 30)) + rng.uniform(0, 1e5)
        svc = rng.lognormal(np.log(0.04), 0.6, n) * rng.uniform(0.2, 3)
        task = rng.integers(0, m, n)
        if trial % 3 == 0:  # probes after the requests, out of time order
            k = int(rng.integers(1, 10))
            time = np.concatenate((time, np.sort(rng.choice(time, k)) + 1e-3))
            svc = np.concatenate((svc, np.full(k, 0.005)))
            task = np.concatenate((task, rng.integers(0, m, k)))
        results = []
        for fused in (True, False):
            table = TaskTable(1)
            for i in range(m):
                table.add(i, 1, 0)
            table.slots[:m, 0] = time.min() + np.linspace(-1, 1, m)
            plane = dp.DataPlane.__new__(dp.DataPlane)
            plane.table, plane._fused_scan = table, fused
            start = np.full(len(time), np.nan)
            plane._scan_single_slot(np.arange(len(time)), time, svc, task, start)
            results.append((start, table.slots[:m, 0].copy()))
        np.testing.assert_array_equal(results[0][0], results[1][0])
        np.testing.assert_array_equal(results[0][1], results[1][1])

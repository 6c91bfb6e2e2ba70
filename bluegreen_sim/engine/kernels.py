"""The data plane's per-request loops, compiled by numba when it is installed.

Multi-slot FIFO queues and least-outstanding routing depend on the queue state request by
request, so they have no prefix-scan form. The single-slot scan and the finalisation passes
(``latency_buckets``, ``finalise_tables``) do have a numpy form; their compiled versions are
used once numba is loaded anyway (:func:`ready`), because numba's first call in a process costs
about half a second. Each is written once, in plain Python over numpy arrays, and compiled
(``pip install 'bluegreen-sim[fast]'``): the same floating-point operations in the same order,
so results are identical with and without numba; only the speed differs (about 50× for the
loops). ``BLUEGREEN_NO_NUMBA=1`` forces the plain-Python path.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:
    if os.environ.get("BLUEGREEN_NO_NUMBA"):
        raise ImportError
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by the no-numba test run
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


@njit(cache=True, nogil=True)
def _earliest_slot(slots, k):  # pragma: no cover - compiled
    """The index of task ``k``'s slot that is free first (FIFO: the next request takes it)."""
    best = 0
    free = slots[k, 0]
    for j in range(1, slots.shape[1]):
        if slots[k, j] < free:
            free = slots[k, j]
            best = j
    return best


@njit(cache=True, nogil=True)
def fifo_slots(times, svc, task, slots, start):  # pragma: no cover - compiled
    """Serve requests, sorted by (task, arrival), each at the earliest free slot of its task.

    ``slots[k]`` holds the times task ``k``'s slots are free (unused slots are +inf); it is
    updated in place. Writes each request's service start into ``start``.
    """
    n = times.shape[0]
    for i in range(n):
        k = task[i]
        best = _earliest_slot(slots, k)
        free = slots[k, best]
        a = times[i]
        b = a if a > free else free
        start[i] = b
        slots[k, best] = b + svc[i]


@njit(cache=True, nogil=True)
def _heap_push(heap_t, heap_k, size, t, k):  # pragma: no cover - compiled
    # sift up by moving parents into the hole: the layout of swapping, half the writes
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_t[parent] <= t:
            break
        heap_t[i] = heap_t[parent]
        heap_k[i] = heap_k[parent]
        i = parent
    heap_t[i] = t
    heap_k[i] = k
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(heap_t, heap_k, size):  # pragma: no cover - compiled
    k = heap_k[0]
    size -= 1
    t = heap_t[size]  # the last element sifts down from the root, through a hole
    last_k = heap_k[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap_t[left + 1] < heap_t[left]:
            child = left + 1
        if t <= heap_t[child]:
            break
        heap_t[i] = heap_t[child]
        heap_k[i] = heap_k[child]
        i = child
    heap_t[i] = t
    heap_k[i] = last_k
    return k, size


@njit(cache=True, nogil=True)
def least_outstanding(
    times,
    svc,
    fixed,
    candidates,
    mul,
    add,
    growth,
    since,
    slots,
    outstanding,
    heap_t,
    heap_k,
    state,
    start,
    chosen,
):  # pragma: no cover - compiled
    """Route time-ordered requests to the candidate with the fewest requests in flight, and
    serve each at the earliest free slot of its target (FIFO).

    ``fixed[i] >= 0`` marks a health-check probe of that task: served there, not counted as
    outstanding. ``outstanding`` (by task) and the completion heap (``heap_t``/``heap_k`` with
    ``state[0]`` its size) carry across windows; ``state[1]`` is the tie-break turn: ties go to
    the first candidate at or after it, so equal targets take turns. Service times of routed
    requests are adjusted by the chosen task's latency faults (``svc`` is updated in place).
    """
    n = times.shape[0]
    m = candidates.shape[0]
    size = state[0]
    turn = state[1] % m  # the turn carried over; from here on it stays within [0, m]
    for i in range(n):
        a = times[i]
        while size > 0 and heap_t[0] <= a:
            done, size = _heap_pop(heap_t, heap_k, size)
            outstanding[done] -= 1
        probe = fixed[i] >= 0
        if probe:
            k = fixed[i]
        else:
            pos = turn if turn < m else 0  # turn % m
            k = candidates[pos]
            best_n = outstanding[k]
            c = 1
            at = pos  # (turn + c) % m, stepped without a division per candidate
            while c < m and best_n > 0:
                at += 1
                if at == m:
                    at = 0
                cand = candidates[at]
                if outstanding[cand] < best_n:
                    k = cand
                    best_n = outstanding[cand]
                    pos = at
                c += 1
            turn = pos + 1
            age = a - since[k]
            if age < 0.0:
                age = 0.0
            svc[i] = svc[i] * mul[k] + add[k] + growth[k] * age / 60.0
        best = _earliest_slot(slots, k)
        free = slots[k, best]
        b = a if a > free else free
        f = b + svc[i]
        slots[k, best] = f
        start[i] = b
        chosen[i] = k
        if not probe:
            outstanding[k] += 1
            size = _heap_push(heap_t, heap_k, size, f, k)
    state[0] = size
    state[1] = turn


@njit(cache=True, nogil=True)
def scan_single_slot(rows, seg, time, svc, slots, start):  # pragma: no cover - compiled
    """The segmented FIFO scan of ``DataPlane._scan_single_slot``, fused into two passes.

    ``rows`` are request rows sorted by (target, arrival) and ``seg`` their targets. The
    floating-point operations are numpy's, one for one and in the same order (a running sum
    over all rows, the offset frame, the running maximum), so the start times are identical
    to the vectorised form's, bit for bit; only the number of passes over memory differs.
    """
    n = rows.shape[0]
    key = np.empty(n)
    c = 0.0
    c_before = 0.0
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        s = svc[rows[i]]
        c += s
        if i == 0 or seg[i] != seg[i - 1]:
            c_before = c - s
        k = time[rows[i]] - (c - c_before - s)
        key[i] = k
        if k < lo:
            lo = k
        if k > hi:
            hi = k
    span = (hi - lo) + 1.0
    run = -np.inf
    j = -1
    off = 0.0
    free = 0.0
    for i in range(n):
        if i == 0 or seg[i] != seg[i - 1]:
            j += 1
            off = (j * 2.0) * span
            free = slots[seg[i], 0]
        k_off = key[i] + off
        if i == 0 or k_off > run:
            run = k_off
        a = run - k_off
        b = free - key[i]
        r = rows[i]
        st = time[r] + (a if a >= b else b)
        start[r] = st
        if i == n - 1 or seg[i + 1] != seg[i]:
            slots[seg[i], 0] = st + svc[r]


@njit(cache=True, nogil=True)
def latency_buckets(
    resp,
    arrival,
    status,
    status_index,
    inv_low_ms,
    inv_log_ratio,
    edge_above,
    edge_below,
    lat,
    ids,
    cat,
):  # pragma: no cover - compiled
    """First pass of the compiled finalisation: each response's latency, histogram bucket
    (``recorder.bucket_ids``: the same guess and one-step correction, so the same bucket) and
    status category; returns the bucket range of all rows and of target responses
    (categories 0-1), and the earliest and latest response."""
    n = resp.shape[0]
    top = edge_above.shape[0] - 1  # HIST_BUCKETS
    lo, hi, t_lo, t_hi = top, -1, top, -1
    first, last = np.inf, -np.inf
    for i in range(n):
        r = resp[i]
        x = r - arrival[i]
        lat[i] = x
        ms = x * 1000.0
        if ms == 0.0:
            b = 0
        else:
            # clipped before the floor (the same bucket as flooring first), so that no
            # infinity reaches the integer conversion
            guess = math.log(ms * inv_low_ms) * inv_log_ratio
            if guess < -1.0:
                guess = -1.0
            elif guess > top - 1.0:
                guess = top - 1.0
            b = int(math.floor(guess)) + 1
            if ms >= edge_above[b]:
                b += 1
            if ms < edge_below[b]:
                b -= 1
            if b < 1:
                b = 1
            elif b > top - 1:
                b = top - 1
        ids[i] = b
        c = status_index[status[i]]
        cat[i] = c
        if b < lo:
            lo = b
        if b > hi:
            hi = b
        if c <= 1:
            if b < t_lo:
                t_lo = b
            if b > t_hi:
                t_hi = b
        if r < first:
            first = r
        if r > last:
            last = r
    return lo, hi, t_lo, t_hi, first, last


@njit(cache=True, nogil=True)
def finalise_tables(
    resp,
    lat,
    ids,
    cat,
    rev,
    s0,
    lo,
    width,
    sec_counts,
    sec_lat,
    sec_hist,
    b0,
    res,
    t_lo,
    t_width,
    m_counts,
    m_total,
    m_cells,
    m_low,
    m_high,
):  # pragma: no cover - compiled
    """Second pass: the per-second tables of the recorder and the 10-second tables of the
    metric store, as the numpy path's bincounts build them (sums in row order)."""
    for i in range(resp.shape[0]):
        r = resp[i]
        g = rev[i]
        c = cat[i]
        x = lat[i]
        b = ids[i]
        sk = (int(math.floor(r)) - s0) * 2 + g
        sec_counts[sk * 5 + c] += 1
        sec_lat[sk] += x
        sec_hist[sk * width + b - lo] += 1
        mk = (int(math.floor(r / res)) - b0) * 2 + g
        m_counts[mk * 5 + c] += 1
        if c <= 1:
            m_total[mk] += x
            m_cells[mk * t_width + b - t_lo] += 1
            if x < m_low[mk]:
                m_low[mk] = x
            if x > m_high[mk]:
                m_high[mk] = x


def ready() -> bool:
    """Whether numba has compiled or loaded a kernel in this process already: its first-call
    cost (about half a second, even from the on-disk cache) is then paid."""
    return HAVE_NUMBA and any(
        kernel.signatures for kernel in (fifo_slots, least_outstanding, scan_single_slot)
    )


def warm_up() -> None:
    """Compile the kernels once (numba caches them on disk for later processes)."""
    if not HAVE_NUMBA:
        return
    t = np.zeros(1)
    slots = np.zeros((1, 1))
    fifo_slots(t, t.copy(), np.zeros(1, np.int64), slots, np.zeros(1))
    least_outstanding(
        t,
        t.copy(),
        np.full(1, -1, np.int64),
        np.zeros(1, np.int64),
        np.ones(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros((1, 1)),
        np.zeros(1, np.int64),
        np.zeros(4),
        np.zeros(4, np.int64),
        np.zeros(2, np.int64),
        np.zeros(1),
        np.zeros(1, np.int64),
    )

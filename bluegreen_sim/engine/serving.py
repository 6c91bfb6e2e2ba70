"""Serving: service times, and the per-target FIFO queues the data plane carries across windows.

Single-slot targets with round robin or random routing are served by a segmented prefix scan
(D_n = max(A_n, D_{n-1}) + S_n, vectorised over all targets at once); multi-slot targets and
least-outstanding-requests routing by a tight per-request loop (:mod:`.kernels`).
"""

from __future__ import annotations

import numpy as np

from . import kernels


class Serving:
    """The queueing half of :class:`~.dataplane.DataPlane` (a mixin: it reads its state)."""

    def _service_times(self, rev: np.ndarray, n: int, rng: np.random.Generator, order=None):
        base_normal = rng.standard_normal(n) if "normal" in self._needs else None
        base_uniform = rng.random(n) if "uniform" in self._needs else None
        if order is not None:  # one kind of variate only (probes_deferrable)
            base_normal = None if base_normal is None else _take(base_normal, order)
            base_uniform = None if base_uniform is None else _take(base_uniform, order)
        blue, green = self.samplers
        if blue.dist == green.dist:
            base = base_normal if blue.needs == "normal" else base_uniform
            return blue.from_base(base)
        svc = np.empty(n)
        for g, sampler in enumerate(self.samplers):
            m = rev == g
            if m.any():
                base = base_normal if sampler.needs == "normal" else base_uniform
                svc[m] = sampler.from_base(base[m])
        return svc

    def _utilisation(self, task, svc, width) -> np.ndarray:
        has = task >= 0
        table = self.table
        work = np.bincount(task[has], weights=svc[has], minlength=table.size)
        return work / (max(width, 1e-9) * table.concurrency[: len(work)])

    def _scan_single_slot(self, rows, time, svc, task, start, in_time_order=False) -> None:
        """FIFO single-server queues of all targets at once: a segmented prefix scan.

        Within a target, D_n = C_n + max(F, max_{j<=n}(A_j - C_{j-1})) with C the running
        sum of service times and F the time the server is free from the previous window.
        ``in_time_order``: the caller knows ``time[rows]`` is sorted (requests only).
        """
        seg = task[rows]
        t = time[rows]
        if self.table.size >= 32768:  # task ids above int16
            order = np.lexsort((t, seg))
        elif in_time_order or len(t) < 2 or bool(np.all(t[1:] >= t[:-1])):
            # already in time order (no probes mixed in): a stable radix sort by target
            order = np.argsort(seg.astype(np.int16), kind="stable")
        else:
            # requests, then probes: two sorted runs, one merge (timsort); then the stable
            # radix sort by target gives lexsort((t, seg))'s order
            by_time = np.argsort(t, kind="stable")
            order = by_time[np.argsort(seg.astype(np.int16)[by_time], kind="stable")]
        r = rows[order]
        seg = seg[order]
        if self._fused_scan:  # the same operations, fused: identical start times
            kernels.scan_single_slot(r, seg, time, svc, self.table.slots, start)
            return
        a = t[order]
        s = svc[r]
        n = len(r)
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(seg[1:], seg[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        lengths = np.diff(np.append(starts, n))
        c = np.cumsum(s)
        # key = A_n - C_{n-1} within the segment, a - ((c - c_before) - s), computed in place
        key = c - np.repeat((c - s)[starts], lengths)
        key -= s
        np.subtract(a, key, out=key)
        # Offsetting each segment keeps one running max from leaking across segments.
        span = float(key.max() - key.min()) + 1.0
        key_off = np.repeat(np.arange(len(starts)) * 2.0 * span, lengths)
        key_off += key
        run = np.maximum.accumulate(key_off)
        free = np.repeat(self.table.slots[seg[starts], 0], lengths)
        # wait = max(F, runmax) - key; the runmax branch is taken in the offset frame, where
        # an idle arrival gets an exact zero.
        run -= key_off
        free -= key
        wait = np.maximum(run, free, out=run)
        st = np.add(a, wait, out=wait)
        start[r] = st
        last = np.append(starts[1:], n) - 1
        self.table.slots[seg[starts], 0] = st[last] + s[last]

    def _serve_least_outstanding(self, lor_groups, n_req, time, svc, task, start) -> None:
        """Least outstanding requests: routing depends on the queues, so a per-request loop."""
        table = self.table
        cols = table.columns
        probe_task = task[n_req:]
        for g, idx, ids in lor_groups:
            probe_rows = n_req + np.flatnonzero(np.isin(probe_task, ids))
            rows = np.concatenate((idx, probe_rows))
            rows = rows[np.argsort(time[rows], kind="stable")]
            fixed = np.where(rows >= n_req, task[rows], -1)
            heap = self._lor[g]
            need = int(heap["state"][0]) + len(rows) + 1
            if need > len(heap["t"]):
                cap = max(need, 2 * len(heap["t"]))
                for key, dtype in (("t", float), ("k", np.int64)):
                    grown = np.zeros(cap, dtype)
                    grown[: len(heap[key])] = heap[key]
                    heap[key] = grown
            s = svc[rows]  # base service times; the chosen task's faults apply in the loop
            st = np.empty(len(rows))
            chosen = np.empty(len(rows), np.int64)
            kernels.least_outstanding(
                time[rows],
                s,
                fixed,
                ids,
                cols["latency_multiply"],
                cols["latency_add"],
                cols["leak_growth"],
                cols["leak_since"],
                table.slots,
                table.outstanding,
                heap["t"],
                heap["k"],
                heap["state"],
                st,
                chosen,
            )
            svc[rows] = s
            start[rows] = st
            task[rows] = chosen

    # -- finalising ----------------------------------------------------------------------------


def _take(draws: np.ndarray, probe_pos: np.ndarray) -> np.ndarray:
    """Reorder one draw for all rows: requests first (the other positions, in order), then
    the probes (``probe_pos``)."""
    requests = np.ones(len(draws), bool)
    requests[probe_pos] = False
    return np.concatenate((draws[requests], draws[probe_pos]))

"""The run's recording: what the data plane writes per second, and the timeline built from it.

The recorder keeps per-second rows (by the second a response went out), exact per-second
percentiles (each second is finalised in one piece), mergeable latency histograms for every
longer span, and, only when asked, one row per request. Counts are production traffic only;
test-listener traffic is counted on its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..aws.metrics import RES
from ..aws.statistics import (
    HIST_BUCKETS,
    HIST_EDGES,
    HIST_MIDPOINTS,
    hist_percentile,
)
from . import kernels

if TYPE_CHECKING:
    from .simulation import World

REVISIONS = ("blue", "green")


STATUSES = (200, 500, 502, 503, 504)
STATUS_INDEX = np.zeros(600, np.int64)
for _i, _code in enumerate(STATUSES):
    STATUS_INDEX[_code] = _i
_CHUNK_SECONDS = 64  # bounds the dense per-second histogram of one batch


class Recorder:
    """Accumulates finished requests and sampled state, second by second."""

    def __init__(self, world: World, record_requests: bool):
        self.world = world
        horizon = int(math.ceil(world.scenario.duration)) + 1
        self.n = horizon
        # per second and revision: requests, errors, latency sum, p50, p99
        self.sec = {name: np.zeros((horizon, 2)) for name in ("requests", "errors", "lat_sum")}
        self.sec["p50"] = np.full((horizon, 2), np.nan)
        self.sec["p99"] = np.full((horizon, 2), np.nan)
        self.state = {
            "green_weight": np.full(horizon, np.nan),
            "healthy": np.full((horizon, 2), np.nan),
            "running": np.full((horizon, 2), np.nan),
        }
        self._state_key: tuple | None = None  # (world version, green weight) last recorded
        # Latency histograms of the minutes still receiving responses; a minute no later batch
        # can reach is closed to its p99 (all the summary reads), so memory does not grow
        # with the simulated time.
        self.minute_hist: dict[int, np.ndarray] = {}
        self.minute_p99: dict[int, float] = {}  # closed minutes with responses
        self.hist = np.zeros(HIST_BUCKETS, np.int64)
        self.status_counts = np.zeros((2, len(STATUSES)), np.int64)  # by revision and status
        self.latency_sum = 0.0
        self.test_requests = 0
        self.test_failed = 0
        self.record_requests = record_requests
        self.request_chunks: list[dict[str, np.ndarray]] = []

    def _grow(self, n: int) -> None:
        if n <= self.n:
            return
        extra = n - self.n
        for name, arr in self.sec.items():
            fill = np.nan if name in ("p50", "p99") else 0.0
            self.sec[name] = np.concatenate((arr, np.full((extra, 2), fill)))
        for name, arr in self.state.items():
            self.state[name] = np.concatenate((arr, np.full((extra,) + arr.shape[1:], np.nan)))
        self.n = n

    def sample_state(self, t0: float, t1: float) -> None:
        """Record the control state in force over [t0, t1) for the seconds it covers."""
        world = self.world
        s0, s1 = int(math.ceil(t0 - 1e-9)), int(math.ceil(t1 - 1e-9))
        counts = [world.alb.target_group(r).counts() for r in REVISIONS]
        world.metrics.sample_hosts(t0, t1, counts)
        if s1 <= s0:
            return
        self._grow(s1)
        key = (world.version, world.listener.green_weight)
        if key == self._state_key:
            return  # unchanged: the timeline carries the last values forward
        self._state_key = key
        self.state["green_weight"][s0:s1] = world.listener.green_weight
        running = [
            len(world.task_sets[r].running()) if r in world.task_sets else 0 for r in REVISIONS
        ]
        if world.alb.shared_target_group:  # rolling update: healthy per revision
            counts = [
                (len(world.task_sets[r].healthy()) if r in world.task_sets else 0, 0)
                for r in REVISIONS
            ]
        for g in range(2):
            self.state["healthy"][s0:s1, g] = counts[g][0]
            self.state["running"][s0:s1, g] = running[g]

    def record(self, batch: dict[str, np.ndarray]) -> None:
        """Take a batch of finished requests (whole seconds of responses)."""
        if "kind" not in batch and kernels.ready() and self._record_compiled(batch):
            return
        resp = batch["response"]
        latency = resp - batch["arrival"]
        status = batch["status"]
        rev = batch["revision"].astype(np.int64)
        ids = bucket_ids(latency * 1000.0)
        cat = STATUS_INDEX[status]
        self.world.metrics.add(resp, status, rev, latency, ids, cat)
        kind = batch.get("kind")  # absent: no test traffic, all production
        prod = None if kind is None else kind == 0
        if prod is not None and not prod.all():
            test = ~prod
            self.test_requests += int(test.sum())
            self.test_failed += int((status[test] >= 500).sum())
            resp, latency, status, rev, ids, cat = (
                resp[prod],
                latency[prod],
                status[prod],
                rev[prod],
                ids[prod],
                cat[prod],
            )
            batch = {k: v[prod] for k, v in batch.items()}
        if not len(resp):
            return
        sec = np.floor(resp).astype(np.int64)
        self._grow(int(sec.max()) + 1)
        s0, s_end = int(sec.min()), int(sec.max()) + 1
        self._close_minutes(s0 // 60)
        if s_end - s0 <= _CHUNK_SECONDS:
            self._per_second(sec, s0, s_end, rev, cat, latency, ids)
        else:
            for c0 in range(s0, s_end, _CHUNK_SECONDS):
                m = (sec >= c0) & (sec < c0 + _CHUNK_SECONDS)
                if m.any():
                    self._per_second(
                        sec[m],
                        c0,
                        min(c0 + _CHUNK_SECONDS, s_end),
                        rev[m],
                        cat[m],
                        latency[m],
                        ids[m],
                    )
        self.latency_sum += float(latency.sum())
        if self.record_requests:
            self._keep_requests(batch, latency)

    def _keep_requests(self, batch: dict[str, np.ndarray], latency: np.ndarray) -> None:
        """One row per production request of a recorded batch (``record_requests``)."""
        resp = batch["response"]
        self.request_chunks.append(
            {
                "arrival_s": batch["arrival"],
                "revision": batch["revision"].astype(np.int64),
                "task": batch["task"],
                "start_s": np.minimum(batch["start"], resp),
                "finish_s": resp,
                "latency_ms": latency * 1000.0,
                "status": batch["status"],
            }
        )

    def _record_compiled(self, batch: dict[str, np.ndarray]) -> bool:
        """:meth:`record` for production traffic in two compiled passes, when numba is
        loaded anyway: the tables of the numpy path, built in the same order, so the same
        results. False (nothing recorded) when the batch spans too many seconds."""
        resp = batch["response"]
        n = len(resp)
        if not n:
            return True
        status = batch["status"]
        lat = np.empty(n)
        ids = np.empty(n, np.int64)
        cat = np.empty(n, np.int64)
        lo, hi, t_lo, t_hi, first, last = kernels.latency_buckets(
            resp,
            batch["arrival"],
            status,
            STATUS_INDEX,
            1.0 / _LOW_MS,
            _INV_LOG_RATIO,
            _EDGE_ABOVE,
            _EDGE_BELOW,
            lat,
            ids,
            cat,
        )
        s0, s_end = math.floor(first), math.floor(last) + 1
        if s_end - s0 > _CHUNK_SECONDS:
            return False
        ns, width = s_end - s0, hi + 1 - lo
        b0 = math.floor(first / RES)
        nb = math.floor(last / RES) + 1 - b0
        t_width = max(t_hi + 1 - t_lo, 1)
        sec_counts = np.zeros(ns * 2 * len(STATUSES), np.int64)
        sec_lat = np.zeros(ns * 2)
        sec_hist = np.zeros(ns * 2 * width, np.int64)
        m_counts = np.zeros(nb * 2 * len(STATUSES), np.int64)
        m_total = np.zeros(nb * 2)
        m_cells = np.zeros(nb * 2 * t_width, np.int64)
        m_low = np.full(nb * 2, np.inf)
        m_high = np.full(nb * 2, -np.inf)
        rev = batch["revision"]
        kernels.finalise_tables(
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
            RES,
            t_lo,
            t_width,
            m_counts,
            m_total,
            m_cells,
            m_low,
            m_high,
        )
        responses = None
        if t_hi >= 0:  # some response came from a target
            cells = m_cells.reshape(nb * 2, t_width)
            responses = (m_total, cells, t_lo, m_low, m_high)
        self.world.metrics.add_counts(b0, m_counts.reshape(nb, 2, len(STATUSES)), responses)
        self._grow(s_end)
        self._close_minutes(s0 // 60)
        counts = sec_counts.reshape(ns, 2, len(STATUSES))
        self._add_seconds(s0, counts, sec_lat, sec_hist.reshape(ns * 2, width), lo)
        self.latency_sum += float(lat.sum())
        if self.record_requests:
            self._keep_requests(batch, lat)
        return True

    def _per_second(self, sec, s0, s_end, rev, cat, latency, ids) -> None:
        """Counts, latency sums and percentiles per (second, revision), and the histograms."""
        ns = s_end - s0
        key = sec - s0  # (sec - s0) * 2 + rev, in place
        key *= 2
        key += rev
        nk = 2 * ns
        cell = key * len(STATUSES)
        cell += cat
        counts = np.bincount(cell, minlength=nk * len(STATUSES))
        lat_sum = np.bincount(key, weights=latency, minlength=nk)
        # the span of buckets this batch uses (a few hundred of the 2,213)
        lo, hi = int(ids.min()), int(ids.max()) + 1
        width = hi - lo
        cell = key * width
        cell += ids
        cell -= lo
        hist = np.bincount(cell, minlength=nk * width).reshape(nk, width)
        self._add_seconds(s0, counts.reshape(ns, 2, len(STATUSES)), lat_sum, hist, lo)

    def _add_seconds(self, s0, counts, lat_sum, hist, lo) -> None:
        """Add one batch's per-second tables from second ``s0`` on: ``counts[second,
        revision, status]``, the latency sums and the latency histograms (one row per second
        and revision, from bucket ``lo`` on)."""
        ns = len(counts)
        s_end = s0 + ns
        width = hist.shape[1]
        self.sec["requests"][s0:s_end] += counts.sum(axis=2)
        self.sec["errors"][s0:s_end] += counts[:, :, 1:].sum(axis=2)
        self.status_counts += counts.sum(axis=0)
        self.sec["lat_sum"][s0:s_end] += lat_sum.reshape(ns, 2)
        # Per-second percentiles from the second's histogram (nearest rank, 1 % buckets).
        cum = hist.cumsum(axis=1)
        n = cum[:, -1]
        has = n > 0
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            rank = np.maximum(1, np.ceil(q * n * (1 - 1e-9)))
            bucket = lo + (cum < rank[:, None]).sum(axis=1)
            value = np.where(has, HIST_MIDPOINTS[np.minimum(bucket, HIST_BUCKETS - 1)], np.nan)
            target = self.sec[name][s0:s_end].reshape(-1)
            target[has] = value[has]
            self.sec[name][s0:s_end] = target.reshape(ns, 2)
        per_sec = hist.reshape(ns, 2, width).sum(axis=1)
        self.hist[lo : lo + width] += per_sec.sum(axis=0)
        minutes = (np.arange(s0, s_end)) // 60
        for m in np.unique(minutes):
            part = per_sec[minutes == m].sum(axis=0)
            h = self.minute_hist.setdefault(int(m), np.zeros(HIST_BUCKETS, np.int64))
            h[lo : lo + width] += part

    def _close_minutes(self, before: int) -> None:
        """Reduce the histograms of minutes before ``before`` to their p99: every batch
        after this one answers at or after the second this batch starts from."""
        for m in [m for m in self.minute_hist if m < before]:
            h = self.minute_hist.pop(m)
            if h.any():
                self.minute_p99[m] = hist_percentile(h, 0.99)

    def minute_p99s(self) -> list[float]:
        """The p99 (ms) of every minute with production responses, in time order."""
        self._close_minutes(math.inf)
        return [self.minute_p99[m] for m in sorted(self.minute_p99)]


_LOW_MS = HIST_EDGES[0]
_INV_LOG_RATIO = 1.0 / math.log(1.01)
# Edge lookups for the one-step correction, padded so that no index needs clipping.
_EDGE_ABOVE = np.append(HIST_EDGES, np.inf)  # [i]: the edge bucket i + 1 opens
_EDGE_BELOW = np.concatenate(([-np.inf], HIST_EDGES, [np.inf]))  # [i]: the edge bucket i opens


def bucket_ids(latency_ms: np.ndarray) -> np.ndarray:
    """:func:`~bluegreen_sim.aws.statistics.hist_bucket` for finite latencies >= 0, with a
    third of its passes over memory: the same logarithmic guess and the same one-step
    correction against the edges, so the same bucket for every latency."""
    n = HIST_BUCKETS
    with np.errstate(divide="ignore"):
        guess = np.log(latency_ms * (1.0 / _LOW_MS))
    guess *= _INV_LOG_RATIO
    np.floor(guess, out=guess)
    np.clip(guess, -1, n - 1, out=guess)  # log(0) = -inf lands on -1, as nan_to_num does
    index = guess.astype(np.intp)
    index += 1
    index += latency_ms >= _EDGE_ABOVE[index]
    index -= latency_ms < _EDGE_BELOW[index]
    np.clip(index, 1, n - 1, out=index)
    index[latency_ms == 0] = 0
    return index


def build_timeline(rec: Recorder, world: World) -> pd.DataFrame:
    """One row per second."""
    n = max(rec.n, int(math.ceil(world.scenario.duration)))
    t = np.arange(n, dtype=float)
    data: dict[str, Any] = {"time_s": t}
    weight = rec.state["green_weight"][:n]
    data["green_weight"] = pd.Series(weight).ffill().fillna(0.0).to_numpy()
    for g, rev in enumerate(REVISIONS):
        data[f"requests_{rev}"] = rec.sec["requests"][:n, g].astype(np.int64)
        data[f"errors_{rev}"] = rec.sec["errors"][:n, g].astype(np.int64)
    for g, rev in enumerate(REVISIONS):
        data[f"p50_ms_{rev}"] = rec.sec["p50"][:n, g]
        data[f"p99_ms_{rev}"] = rec.sec["p99"][:n, g]
    for g, rev in enumerate(REVISIONS):
        for name in ("healthy", "running"):
            col = pd.Series(rec.state[name][:n, g]).ffill().fillna(0.0)
            data[f"{name}_{rev}"] = col.to_numpy().astype(np.int64)
    frame = pd.DataFrame(data)
    for alarm in world.alarms.values():
        states = np.full(n, "INSUFFICIENT_DATA", dtype=object)
        for h in alarm.history:
            states[int(math.ceil(h["time_s"])) :] = h["new_state"]
        frame[f"alarm_{alarm.spec.name}"] = states
    return frame


def percentile_ms(hist: np.ndarray, q: float) -> float | None:
    return None if hist.sum() == 0 else hist_percentile(hist, q)

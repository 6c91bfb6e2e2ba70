"""CloudWatch as the simulation sees it: the ALB metrics per period, per dimension.

The data plane writes finished requests here (by the time their response went out) and samples
the healthy and unhealthy host counts; the store keeps 10-second aggregates (CloudWatch's finest
alarm period) per dimension: the load balancer, and the blue and green target groups. Any period
that is a multiple of 10 s is a sum of those. Counts that are zero are not reported (the
datapoint is missing), as ALB does; ``RequestCount`` is always reported.

Alarms that read the store are in :mod:`.alarms`.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

import numpy as np

from ..scenario import METRICS
from .statistics import HIST_BUCKETS
from .statistics import statistic_value as _statistic_value

if TYPE_CHECKING:
    pass

RES = 10.0  # seconds per stored bucket
LB, BLUE_TG, GREEN_TG = 0, 1, 2
DIMENSIONS = ("load_balancer", "blue", "green")
COUNTS = tuple(m for m in METRICS if m.endswith("Count") and "Host" not in m)
_C = {name: i for i, name in enumerate(COUNTS)}
_TRT_N, _TRT_SUM, _TRT_MIN, _TRT_MAX = range(len(COUNTS), len(COUNTS) + 4)
_WIDTH = len(COUNTS) + 4
_HOSTS = ("HealthyHostCount", "UnHealthyHostCount")
_STATUS_INDEX = np.zeros(600, np.int64)  # HTTP status → 0..4 for 200, 500, 502, 503, 504
for _i, _code in enumerate((200, 500, 502, 503, 504)):
    _STATUS_INDEX[_code] = _i


def _extremes(
    cells: np.ndarray, lo_id: int, key: np.ndarray, ids: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest latency per key (+inf / -inf for keys without any).

    A key's extremes lie in its lowest and highest occupied histogram buckets (the buckets are
    ordered intervals), so only the few responses in those buckets are compared: the same
    values as a minimum and maximum over all of them, without a pass of ``ufunc.at`` over
    every response.
    """
    occupied = cells != 0
    width = cells.shape[1]
    # a key without responses gets bucket lo_id here, but no response reads its entry
    first = lo_id + occupied.argmax(axis=1)
    last = lo_id + width - 1 - occupied[:, ::-1].argmax(axis=1)
    low = np.full(len(cells), np.inf)
    high = np.full(len(cells), -np.inf)
    for edge, out, at in ((first, low, np.minimum.at), (last, high, np.maximum.at)):
        sel = np.flatnonzero(ids == edge[key])
        at(out, key[sel], lat[sel])
    return low, high


def _blank(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty aggregates for n buckets: the counters, and the host-count samples (count, then
    sum/min/max of healthy and of unhealthy, per target group); minima start at +inf."""
    values = np.zeros((n, 3, _WIDTH))
    values[:, :, _TRT_MIN] = np.inf
    values[:, :, _TRT_MAX] = -np.inf
    hosts = np.zeros((n, 2, 7))
    hosts[:, :, (2, 5)] = np.inf
    hosts[:, :, (3, 6)] = -np.inf
    return values, hosts


class MetricStore:
    """10-second aggregates of the ALB metrics, per dimension."""

    def __init__(self, horizon: float):
        self.values, self.hosts = _blank(int(math.ceil(horizon / RES)) + 2)
        # Latency histograms of target responses, one compact record per finalised batch:
        # (first bucket, end bucket, lowest histogram id, id width, codes, counts), where
        # code = ((bucket - first) * 2 + revision) * width + (id - lowest), nonzero cells only.
        # About 8 bytes per distinct (10 s, revision, 1 % bucket): memory grows with the
        # spread of latencies, not with the number of requests.
        self.hist_batches: list[tuple[int, int, int, int, np.ndarray, np.ndarray]] = []
        self._hist_ends: list[int] = []  # end bucket of each record, for bisection
        self._hist_ordered = True  # records arrive in time order (finalisation is monotone)
        self._last_histogram: tuple[tuple | None, np.ndarray | None] = (None, None)
        self._host_run: list | None = None  # [bucket, counts, windows] not yet written

    def _ensure(self, bucket: int) -> None:
        if bucket < len(self.values):
            return
        v, h = _blank(max(bucket + 1, 2 * len(self.values)) - len(self.values))
        self.values = np.concatenate((self.values, v))
        self.hosts = np.concatenate((self.hosts, h))

    def add(
        self,
        response: np.ndarray,
        status: np.ndarray,
        revision: np.ndarray,
        latency: np.ndarray,
        hist_ids: np.ndarray,
        category: np.ndarray | None = None,
    ) -> None:
        """Count finished requests (production and test) by when their response went out.

        ``category`` is the status as an index into (200, 500, 502, 503, 504), if known."""
        if not len(response):
            return
        bucket = response / RES
        np.floor(bucket, out=bucket)  # faster than //, exact at edges
        key = bucket.astype(np.int64)
        b0, b1 = int(key.min()), int(key.max()) + 1
        nb = b1 - b0
        key -= b0  # (bucket - b0) * 2 + revision, in place
        key *= 2
        key += revision
        cat = _STATUS_INDEX[status] if category is None else category
        cell = key * 5
        cell += cat
        counts = np.bincount(cell, minlength=nb * 10).reshape(nb, 2, 5)
        # TargetResponseTime: responses that came from a target (200 or 500)
        target = cat <= 1
        if target.all():  # the common case: no ELB error in the batch
            k, lat, ids = key, latency, hist_ids
        elif target.any():
            k, lat, ids = key[target], latency[target], hist_ids[target]
        responses = None
        if target.any():
            total = np.bincount(k, weights=lat, minlength=nb * 2)
            lo_id = int(ids.min())
            width = int(ids.max()) + 1 - lo_id
            cell = k * width
            cell += ids
            cell -= lo_id
            cells = np.bincount(cell, minlength=nb * 2 * width).reshape(nb * 2, width)
            low, high = _extremes(cells, lo_id, k, ids, lat)
            responses = (total, cells, lo_id, low, high)
        self.add_counts(b0, counts, responses)

    def add_counts(self, b0: int, counts: np.ndarray, responses: tuple | None) -> None:
        """Add one batch's tables from bucket ``b0`` on: ``counts[bucket, revision, status]``
        (status as an index into 200, 500, 502, 503, 504) and, when some response came from a
        target, ``responses = (total, cells, lowest id, minima, maxima)``: per (bucket,
        revision) key the latency sum, the histogram cells from the lowest bucket id on, and
        the extreme latencies."""
        nb = len(counts)
        self._ensure(b0 + nb)
        c = counts.astype(float)
        v = self.values[b0 : b0 + nb]
        # per target group: 503s never chose a target, so they are no RequestCount
        v[:, 1:, _C["RequestCount"]] += c.sum(axis=2) - c[:, :, 3]
        v[:, 1:, _C["HTTPCode_Target_2XX_Count"]] += c[:, :, 0]
        v[:, 1:, _C["HTTPCode_Target_5XX_Count"]] += c[:, :, 1]
        lb = c.sum(axis=1)
        v[:, LB, _C["RequestCount"]] += lb.sum(axis=1) - lb[:, 3]
        v[:, LB, _C["HTTPCode_Target_2XX_Count"]] += lb[:, 0]
        v[:, LB, _C["HTTPCode_Target_5XX_Count"]] += lb[:, 1]
        v[:, LB, _C["HTTPCode_ELB_5XX_Count"]] += lb[:, 2:].sum(axis=1)
        v[:, LB, _C["HTTPCode_ELB_502_Count"]] += lb[:, 2]
        v[:, LB, _C["HTTPCode_ELB_503_Count"]] += lb[:, 3]
        v[:, LB, _C["HTTPCode_ELB_504_Count"]] += lb[:, 4]
        if responses is None:
            return
        total, cells, lo_id, low, high = responses
        n = c[:, :, 0] + c[:, :, 1]  # responses from a target, per (bucket, revision)
        total = total.reshape(nb, 2)
        lo, hi = low.reshape(nb, 2), high.reshape(nb, 2)
        for dim, sl in ((BLUE_TG, 0), (GREEN_TG, 1)):
            v[:, dim, _TRT_N] += n[:, sl]
            v[:, dim, _TRT_SUM] += total[:, sl]
            v[:, dim, _TRT_MIN] = np.minimum(v[:, dim, _TRT_MIN], lo[:, sl])
            v[:, dim, _TRT_MAX] = np.maximum(v[:, dim, _TRT_MAX], hi[:, sl])
        v[:, LB, _TRT_N] += n.sum(axis=1)
        v[:, LB, _TRT_SUM] += total.sum(axis=1)
        v[:, LB, _TRT_MIN] = np.minimum(v[:, LB, _TRT_MIN], lo.min(axis=1))
        v[:, LB, _TRT_MAX] = np.maximum(v[:, LB, _TRT_MAX], hi.max(axis=1))
        self._keep_cells(b0, nb, cells, lo_id)

    def _keep_cells(self, b0: int, nb: int, cells: np.ndarray, lo: int) -> None:
        """Keep the nonzero cells of the (10 s bucket, revision, latency bucket) counts."""
        width = cells.shape[1]
        flat = cells.reshape(-1)
        codes = np.flatnonzero(flat)
        counts = flat[codes]
        code_type = np.uint32 if nb * 2 * width < 2**32 else np.int64
        count_type = np.uint32 if counts.max() < 2**32 else np.int64
        if self.hist_batches:
            prev = self.hist_batches[-1]
            self._hist_ordered &= b0 >= prev[0] and b0 + nb >= prev[1]
        self.hist_batches.append(
            (b0, b0 + nb, lo, width, codes.astype(code_type), counts.astype(count_type))
        )
        self._hist_ends.append(b0 + nb)

    def sample_hosts(self, t0: float, t1: float, counts: list[tuple[int, int]]) -> None:
        """Record the (healthy, unhealthy) counts per target group in force over [t0, t1)."""
        bucket = int(t0 // RES)
        run = self._host_run
        # Windows of one bucket with the same counts are written once, with their number
        # (sums of integer counts: the same values as adding them one by one).
        if run is not None and run[0] == bucket and run[1] == counts:
            run[2] += 1
            return
        self._write_hosts()
        self._host_run = [bucket, counts, 1]

    def _write_hosts(self) -> None:
        if self._host_run is None:
            return
        bucket, counts, n = self._host_run
        self._host_run = None
        self._ensure(bucket)
        for g, (healthy, unhealthy) in enumerate(counts):
            h = self.hosts[bucket, g]
            h[0] += n
            h[1] += healthy * n
            h[2] = min(h[2], healthy)
            h[3] = max(h[3], healthy)
            h[4] += unhealthy * n
            h[5] = min(h[5], unhealthy)
            h[6] = max(h[6], unhealthy)

    # -- datapoints ------------------------------------------------------------------------
    def datapoint(self, metric: str, dimension: int, stat: str, start: float, end: float):
        """The value of one metric over [start, end), or None when AWS reports nothing."""
        if start < 0:
            return None
        b0, b1 = int(round(start / RES)), int(round(end / RES))
        if b1 > len(self.values):
            self._ensure(b1)
        if metric in _HOSTS:
            self._write_hosts()
            g = dimension - 1
            h = self.hosts[b0:b1, g]
            n = h[:, 0].sum()
            if n == 0:
                return None
            o = 1 if metric == "HealthyHostCount" else 4
            if stat.startswith("p"):
                # host counts have no per-sample distribution here: a percentile is the mean
                return float(h[:, o].sum() / n)
            return _statistic_value(
                stat,
                count=int(n),
                total=float(h[:, o].sum()),
                minimum=float(h[:, o + 1].min()),
                maximum=float(h[:, o + 2].max()),
            )
        v = self.values[b0:b1, dimension]
        if metric == "TargetResponseTime":
            n = int(v[:, _TRT_N].sum())
            if n == 0:
                return None
            hist = None
            if stat.startswith("p"):
                hist = self.histogram(dimension, b0, b1)
            return _statistic_value(
                stat,
                count=n,
                total=float(v[:, _TRT_SUM].sum()),
                minimum=float(v[:, _TRT_MIN].min()),
                maximum=float(v[:, _TRT_MAX].max()),
                hist=hist,
                hist_scale=0.001,
            )
        total = float(v[:, _C[metric]].sum())
        if total == 0:
            return 0.0 if metric == "RequestCount" and stat in ("Sum", "SampleCount") else None
        if stat in ("Sum", "SampleCount"):
            return total
        return 1.0  # each request is a sample of value 1: Average, Minimum, Maximum are 1

    def histogram(self, dimension: int, b0: int, b1: int) -> np.ndarray:
        """Latency histogram of target responses in buckets [b0, b1) of one dimension."""
        key = (dimension, b0, b1, len(self.hist_batches))
        if self._last_histogram[0] == key:  # p50 and p99 of one period ask twice
            return self._last_histogram[1]
        out = np.zeros(HIST_BUCKETS, np.int64)
        first = bisect.bisect_right(self._hist_ends, b0) if self._hist_ordered else 0
        for start, end, lo, width, codes, counts in self.hist_batches[first:]:
            if start >= b1:
                if self._hist_ordered:
                    break
                continue
            if end <= b0:
                continue
            row = codes // width
            bucket = start + row // 2
            m = (bucket >= b0) & (bucket < b1)
            if dimension != LB:
                m &= row % 2 == dimension - 1
            if m.any():
                np.add.at(out, lo + (codes[m] % width).astype(np.int64), counts[m])
        self._last_histogram = (key, out)
        return out


def metrics_frame(store: MetricStore, end: float, period: float = 60.0):
    """The per-period datapoints as AWS would report them (missing ones left out)."""
    import pandas as pd

    rows = []
    stats = {m: ("Sum",) for m in COUNTS}
    stats["TargetResponseTime"] = ("Average", "Maximum", "p50", "p99")
    stats["HealthyHostCount"] = ("Average", "Minimum")
    stats["UnHealthyHostCount"] = ("Average", "Maximum")
    t = 0.0
    while t < end - 1e-9:
        for d, dim in enumerate(DIMENSIONS):
            for metric, st in stats.items():
                if d == LB and metric in _HOSTS:
                    continue
                if d != LB and metric.startswith("HTTPCode_ELB"):
                    continue
                for stat in st:
                    v = store.datapoint(metric, d, stat, t, t + period)
                    if v is not None:
                        rows.append((t, dim, metric, stat, v))
        t += period
    return pd.DataFrame(rows, columns=["time_s", "dimension", "metric", "statistic", "value"])

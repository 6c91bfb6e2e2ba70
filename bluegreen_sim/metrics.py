"""CloudWatch as the simulation sees it: the ALB metrics per period, and alarms that wake.

The data plane writes finished requests here (by the time their response went out) and samples
the healthy and unhealthy host counts; the store keeps 10-second aggregates (CloudWatch's finest
alarm period) per dimension: the load balancer, and the blue and green target groups. Any period
that is a multiple of 10 s is a sum of those. Counts that are zero are not reported (the
datapoint is missing), as ALB does; ``RequestCount`` is always reported.

Each alarm is a SimPy process that wakes every minute (every 10 s for periods under a minute),
gathers its evaluation range of datapoints and applies
:func:`~bluegreen_sim.cloudwatch.evaluate_alarm`.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from .cloudwatch import (
    HIST_BUCKETS,
    evaluate_alarm,
    evaluation_range,
    hist_bucket,
)
from .cloudwatch import (
    statistic_value as _statistic_value,
)
from .scenario import AlarmSpec

if TYPE_CHECKING:
    from .simulation import World

RES = 10.0  # seconds per stored bucket
LB, BLUE_TG, GREEN_TG = 0, 1, 2
DIMENSIONS = ("load_balancer", "blue", "green")
COUNTS = (
    "RequestCount",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_5XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
)
_C = {name: i for i, name in enumerate(COUNTS)}
_TRT_N, _TRT_SUM, _TRT_MIN, _TRT_MAX = range(len(COUNTS), len(COUNTS) + 4)
_WIDTH = len(COUNTS) + 4
_HOSTS = ("HealthyHostCount", "UnHealthyHostCount")


class MetricStore:
    """10-second aggregates of the ALB metrics, per dimension."""

    def __init__(self, horizon: float):
        n = int(math.ceil(horizon / RES)) + 2
        self.values = np.zeros((n, 3, _WIDTH))
        self.values[:, :, _TRT_MIN] = np.inf
        self.values[:, :, _TRT_MAX] = -np.inf
        # host counts: samples, then sum/min/max of healthy and of unhealthy, per target group
        self.hosts = np.zeros((n, 2, 7))
        self.hosts[:, :, (2, 5)] = np.inf
        self.hosts[:, :, (3, 6)] = -np.inf
        self.hist: dict[tuple[int, int], list[np.ndarray]] = {}

    def _ensure(self, bucket: int) -> None:
        if bucket < len(self.values):
            return
        grow = max(bucket + 1, 2 * len(self.values)) - len(self.values)
        v = np.zeros((grow, 3, _WIDTH))
        v[:, :, _TRT_MIN] = np.inf
        v[:, :, _TRT_MAX] = -np.inf
        self.values = np.concatenate((self.values, v))
        h = np.zeros((grow, 2, 7))
        h[:, :, (2, 5)] = np.inf
        h[:, :, (3, 6)] = -np.inf
        self.hosts = np.concatenate((self.hosts, h))

    def add(
        self, response: np.ndarray, status: np.ndarray, revision: np.ndarray, latency: np.ndarray
    ) -> None:
        """Count finished requests (production and test) by when their response went out."""
        if not len(response):
            return
        bucket = (response // RES).astype(np.int64)
        b0, b1 = int(bucket.min()), int(bucket.max())
        self._ensure(b1)
        rel = bucket - b0
        nb = b1 - b0 + 1
        target_resp = (status == 200) | (status == 500)
        # 503s never chose a target: they count for the load balancer only (no RequestCount).
        chose_target = status != 503
        cols = {
            "RequestCount": chose_target,
            "HTTPCode_Target_2XX_Count": status == 200,
            "HTTPCode_Target_5XX_Count": status == 500,
            "HTTPCode_ELB_5XX_Count": status >= 502,
            "HTTPCode_ELB_502_Count": status == 502,
            "HTTPCode_ELB_503_Count": status == 503,
            "HTTPCode_ELB_504_Count": status == 504,
        }
        tg = revision.astype(np.int64) + 1
        for dim_idx, rows in ((LB, None), (BLUE_TG, tg == 1), (GREEN_TG, tg == 2)):
            for name, mask in cols.items():
                if dim_idx != LB and name.startswith("HTTPCode_ELB"):
                    continue
                m = mask if rows is None else (mask & rows)
                self.values[b0 : b1 + 1, dim_idx, _C[name]] += np.bincount(
                    rel, weights=m, minlength=nb
                )
            m = target_resp if rows is None else (target_resp & rows)
            if m.any():
                lat = latency[m]
                r = rel[m]
                seg = self.values[b0 : b1 + 1, dim_idx]
                seg[:, _TRT_N] += np.bincount(r, minlength=nb)
                seg[:, _TRT_SUM] += np.bincount(r, weights=lat, minlength=nb)
                np.minimum.at(seg[:, _TRT_MIN], r, lat)
                np.maximum.at(seg[:, _TRT_MAX], r, lat)
        # Latency histograms of target responses, per target group (the LB is their union).
        m = target_resp
        if m.any():
            ids = hist_bucket(latency[m] * 1000.0).astype(np.int32)
            keys = bucket[m] * 2 + (tg[m] - 1)
            order = np.argsort(keys, kind="stable")
            keys, ids = keys[order], ids[order]
            cut = np.flatnonzero(np.diff(keys)) + 1
            for k, chunk in zip(keys[np.r_[0, cut]], np.split(ids, cut), strict=True):
                self.hist.setdefault((int(k) // 2, int(k) % 2), []).append(chunk)

    def sample_hosts(self, t0: float, t1: float, counts: list[tuple[int, int]]) -> None:
        """Record the (healthy, unhealthy) counts per target group in force over [t0, t1)."""
        bucket = int(t0 // RES)
        self._ensure(bucket)
        for g, (healthy, unhealthy) in enumerate(counts):
            h = self.hosts[bucket, g]
            h[0] += 1
            h[1] += healthy
            h[2] = min(h[2], healthy)
            h[3] = max(h[3], healthy)
            h[4] += unhealthy
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
            g = dimension - 1
            h = self.hosts[b0:b1, g]
            n = h[:, 0].sum()
            if n == 0:
                return None
            o = 1 if metric == "HealthyHostCount" else 4
            return (
                _statistic_value(
                    stat,
                    count=int(n),
                    total=float(h[:, o].sum()),
                    minimum=float(h[:, o + 1].min()),
                    maximum=float(h[:, o + 2].max()),
                )
                if not stat.startswith("p")
                else float(h[:, o].sum() / n)
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
        groups = (0, 1) if dimension == LB else (dimension - 1,)
        chunks = [c for b in range(b0, b1) for g in groups for c in self.hist.get((b, g), ())]
        if not chunks:
            return np.zeros(HIST_BUCKETS, np.int64)
        return np.bincount(np.concatenate(chunks), minlength=HIST_BUCKETS)


_EXPRESSION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\*\s*([A-Za-z]\w*)\s*/\s*([A-Za-z]\w*)\s*$")


class Alarm:
    """A CloudWatch metric alarm: its state, and the history of its transitions."""

    def __init__(self, world: World, spec: AlarmSpec):
        self.world = world
        self.spec = spec
        self.state = "INSUFFICIENT_DATA"
        self.history: list[dict] = []
        self.last_values: list[float | None] = []
        self.cadence = 60.0 if spec.period >= 60 else 10.0

    def values(self, now: float) -> list[float | None]:
        """The datapoints of the evaluation range that ends at ``now``, oldest first."""
        s = self.spec
        n = evaluation_range(s.evaluation_periods)
        return [self._value(now - k * s.period, now - (k - 1) * s.period) for k in range(n, 0, -1)]

    def _value(self, start: float, end: float) -> float | None:
        s = self.spec
        store = self.world.metrics
        if s.expression is None:
            dim = _dimension(s.target_group)
            stat = s.statistic or s.extended_statistic
            return store.datapoint(s.metric, dim, stat, start, end)
        factor, a, b = _EXPRESSION.match(s.expression).groups()
        va = self._ref(a, start, end)
        vb = self._ref(b, start, end)
        # Metric math yields no datapoint where an input has none (or would divide by zero).
        if va is None or vb is None or vb == 0:
            return None
        return float(factor) * va / vb

    def _ref(self, ident: str, start: float, end: float) -> float | None:
        ref = self.spec.metrics[ident]
        return self.world.metrics.datapoint(
            ref.metric, _dimension(ref.target_group), ref.statistic, start, end
        )

    def evaluate(self, now: float) -> str:
        s = self.spec
        m, n = s.m_of_n
        values = self.values(now)
        new = evaluate_alarm(
            values,
            threshold=s.threshold,
            comparison=s.comparison,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            treat_missing_data=s.treat_missing_data,
            previous_state=self.state,
        )
        self.last_values = values
        if new != self.state:
            old, self.state = self.state, new
            shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
            self.history.append(
                {
                    "time_s": now,
                    "alarm": s.name,
                    "old_state": old,
                    "new_state": new,
                    "datapoints": shown,
                }
            )
            self.world.log(
                "cloudwatch",
                f"alarm {new}",
                f"{s.name}: {old} → {new}; datapoints [{shown}] vs {s.comparison} {s.threshold:g}",
            )
            for callback in list(self.world.alarm_listeners):
                callback(self, old, new)
        return new

    def run(self):
        """Wake every minute (10 s for short periods) and evaluate."""
        env = self.world.env
        yield env.timeout(self.cadence)
        while True:
            self.world.dataplane.finalize(env.now)
            self.evaluate(env.now)
            yield env.timeout(self.cadence)


def _dimension(target_group: str | None) -> int:
    return {None: LB, "blue": BLUE_TG, "green": GREEN_TG}[target_group]


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

"""The simulated path of :func:`~bluegreen_sim.analysis.advise.advise`: runs with common random
numbers (serially, on processes or on Dask), their measures with intervals, and the adaptive
replication that stops once each interval is tight enough to rank.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ..engine.simulation import simulate
from ..scenario import Scenario
from .candidates import HEALTHY
from .stats import mean_interval, wilson_interval

# --------------------------------------------------------------------------------------------
# Running simulations


def _run_one(scenario: Scenario, seed: int) -> dict[str, Any]:
    return _run_summary(simulate(scenario, seed=seed).summary)


def _run_summary(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "detected": bool(s["outcome_reason"] and str(s["outcome_reason"]).startswith("alarm")),
        "ttd": s["time_to_detect_s"],
        "failed": s["requests_failed_green"],
        "duration": s["deployment_duration_s"],
        "cost": s["cost_usd"],
        "production_traffic_s": s["production_traffic_s"],
        "deployment_start_s": s["deployment_start_s"],
        "deployment_end_s": s["deployment_end_s"],
    }


class _Runner:
    """Runs (scenario, seed) jobs serially, on local processes or on Dask."""

    def __init__(self, backend: str, workers: int | None, address: str | None):
        if backend not in ("serial", "processes", "dask"):
            raise ValueError("backend must be serial, processes or dask")
        self.backend, self._pool, self._client = backend, None, None
        if backend == "processes":
            self._pool = ProcessPoolExecutor(max_workers=workers)
        elif backend == "dask":
            from dask.distributed import Client, LocalCluster

            self._client = (
                Client(address)
                if address
                else Client(LocalCluster(n_workers=workers, processes=True, threads_per_worker=1))
            )

    def map(self, jobs: list[tuple[Scenario, int]]) -> list[dict[str, Any]]:
        if self._pool is not None:
            return list(self._pool.map(_run_one, *zip(*jobs, strict=True))) if jobs else []
        if self._client is not None:
            futures = self._client.map(_run_one, *zip(*jobs, strict=True), pure=False)
            return self._client.gather(futures)
        return [_run_one(s, seed) for s, seed in jobs]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._client is not None:
            self._client.close()


# --------------------------------------------------------------------------------------------
# Measures


def _row(case, measure, value, low, high, method, n) -> dict[str, Any]:
    return {
        "case": case,
        "measure": measure,
        "value": value,
        "low": low,
        "high": high,
        "method": method,
        "n": n,
    }


def _simulated_rows(case: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    n = len(runs)
    k = sum(r["detected"] for r in runs)
    lo, hi = wilson_interval(k, n)
    rows = []
    if case == HEALTHY:
        rows.append(_row(case, "P(false rollback)", k / n, lo, hi, "simulated", n))
        return rows + _speed_rows([r for r in runs if not r["detected"]])
    rows.append(_row(case, "P(detect)", k / n, lo, hi, "simulated", n))
    ttd = np.sort([r["ttd"] for r in runs if r["detected"] and r["ttd"] is not None])
    if len(ttd):
        a, b = _median_ranks(len(ttd))
        median = float(np.median(ttd))
        rows.append(
            _row(case, "median time to detect (s)", median, ttd[a], ttd[b], "simulated", len(ttd))
        )
    else:
        rows.append(
            _row(case, "median time to detect (s)", math.nan, math.nan, math.nan, "simulated", 0)
        )
    m, mean, low, high = mean_interval([r["failed"] for r in runs])
    rows.append(_row(case, "failed requests", mean, low, high, "simulated", m))
    return rows


def _speed_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Duration and cost of healthy deployments that went through (not rolled back)."""
    rows = []
    for key, measure in (("duration", "deployment duration (s)"), ("cost", "cost (USD)")):
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            m, mean, low, high = mean_interval(values)
            rows.append(_row(HEALTHY, measure, mean, low, high, "simulated", m))
    return rows


def _median_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """Order-statistic indices bracketing the median with at least ``confidence`` (binomial)."""
    from scipy import stats

    lo = int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))
    hi = int(stats.binom.isf((1 - confidence) / 2, n, 0.5))
    return max(lo - 1, 0), min(hi, n - 1)


def _settled(case: str, runs: list[dict[str, Any]], targets: dict[str, float], tol: float) -> bool:
    """Tight enough to rank: the interval is narrow, or clearly on one side of its target."""
    n = len(runs)
    k = sum(r["detected"] for r in runs)
    lo, hi = wilson_interval(k, n)
    if (hi - lo) / 2 <= tol:
        return True
    target = targets.get(case)
    return target is not None and (hi < target or lo > target)


def _adaptive(runner, built, cells, seed, batch, min_reps, max_reps, tol, targets):
    """Add replications to unsettled cells, a batch at a time, with common seeds."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in cells}
    active = list(cells)
    done = 0
    while active and done < max_reps:
        size = max(min(batch, max_reps - done), min(min_reps, max_reps) - done)
        seeds = [seed + done + r for r in range(size)]
        jobs = [(built[c], s) for c in active for s in seeds]
        out = runner.map(jobs)
        for i, c in enumerate(active):
            runs[c] += out[i * size : (i + 1) * size]
        done += size
        active = [c for c in active if not _settled(c[1], runs[c], targets, tol)]
    return runs

"""Close the loop: run the simulator on the fitted workload and compare it with the logs.

The observed side has sampling intervals (order statistics for quantiles, Wilson for
proportions, Poisson for the rate); the simulated side has the spread of independent
replications (a t interval over seeds). A row "agrees" when the two intervals overlap.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import simulate  # the public API (check is imported lazily, after the package)
from ...scenario import scenario_from_dict
from .fit import quantile_interval
from .report import CalibrationReport
from .workload import write_workload

_T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 8: 2.365, 10: 2.262}


def _t_interval(values: list[float]) -> tuple[float, float, float]:
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return (float("nan"),) * 3
    if len(x) == 1:
        return float(x[0]), float(x[0]), float(x[0])
    t = _T95.get(len(x), 1.96 if len(x) > 10 else 2.262)
    half = t * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def run_check(
    report: CalibrationReport,
    *,
    seeds: int = 3,
    max_duration: float = 3600.0,
    seed: int = 0,
    plot: str | Path | None = None,
) -> dict[str, Any]:
    """Simulate the workload ``seeds`` times and compare with what the logs showed; the result
    is also stored in ``report.check`` (with text lines for printing)."""
    if report.latency_sample_s is None:
        raise ValueError("the check needs access logs (CloudWatch exports give no latencies)")
    workload = report.workload
    duration = min(float(workload["duration"]), max_duration)
    with tempfile.TemporaryDirectory(prefix="bluegreen-calibrate-") as tmp:
        write_workload(report, Path(tmp) / "workload.yaml")
        raw = {**workload, "duration": duration, "name": "calibration-check"}
        scenario = scenario_from_dict(raw, source="<calibrated workload>", base_dir=tmp)
        runs = [simulate(scenario, seed=seed + i, record_requests=True) for i in range(seeds)]
    sims = [r.requests for r in runs]
    rows: dict[str, dict[str, Any]] = {}
    # rate over the simulated window
    per_minute = report.observed_per_minute
    if per_minute is not None and len(per_minute):
        t0 = float(per_minute.index.min())
        window = per_minute[(per_minute.index >= t0) & (per_minute.index < t0 + duration)]
        count = float(window.sum())
        span = min(duration, len(window) * 60.0)
        half = 1.96 * math.sqrt(count) / span
        rows["rate (req/s)"] = _row(
            (count / span, count / span - half, count / span + half),
            _t_interval([len(s) / duration for s in sims]),
        )
    sample_ms = report.latency_sample_s * 1000.0
    for q in (0.5, 0.9, 0.99):
        obs = quantile_interval(sample_ms, q)
        sim = _t_interval([float(np.quantile(s["latency_ms"], q)) for s in sims if len(s)])
        rows[f"p{int(q * 100)} (ms)"] = _row(obs, sim)
    main = report.service["group"]
    err = report.errors[main]
    rows["target 5XX rate"] = _row(
        err["target_5xx"], _t_interval([float((s["status"] == 500).mean()) for s in sims])
    )
    sim_elb = _t_interval([float(s["status"].isin([502, 503, 504]).mean()) for s in sims])
    rows["ELB 502/503/504 rate"] = _row(err["elb_502_503_504"], sim_elb)
    lines = [
        f"Check: {seeds} simulated run(s) of {duration:.0f} s on {workload['service']['tasks']} "
        f"task(s) (concurrency {workload['service']['concurrency']}) against the logs",
        f"  {'':22s} {'observed [95 %]':>28s} {'simulated [95 %]':>28s}",
    ]
    for name, r in rows.items():
        lines.append(
            f"  {name:22s} {_fmt(r['observed'], name):>28s} {_fmt(r['simulated'], name):>28s}"
            f"  {r['verdict']}"
        )
    if rows.get("ELB 502/503/504 rate", {}).get("verdict") == "differs":
        lines.append(
            "  (the model makes ELB 502/503/504 only by its mechanics: stopped tasks, idle "
            "timeouts, no healthy target; errors of the load balancer itself are not in the "
            "workload)"
        )
    result = {"duration_s": duration, "seeds": seeds, "rows": rows, "lines": lines}
    if plot is not None:
        _draw(report, runs, duration, plot)
        result["figure"] = str(plot)
        lines.append(f"  figure: {plot}")
    report.check = result
    return result


def _row(obs, sim) -> dict[str, Any]:
    overlap = not (obs[2] < sim[1] or sim[2] < obs[1])
    return {
        "observed": list(obs),
        "simulated": list(sim),
        "verdict": "agrees" if overlap else "differs",
    }


def _fmt(triple, name: str) -> str:
    v, lo, hi = triple
    if v != v:
        return "n/a"
    if "rate" in name and "req/s" not in name:
        return f"{v:.3%} [{lo:.3%}, {hi:.3%}]"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def _draw(report: CalibrationReport, runs: list, duration: float, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    obs = np.sort(report.latency_sample_s * 1000.0)
    ax1.plot(obs, (np.arange(len(obs)) + 0.5) / len(obs), label="observed (logs)", lw=2)
    sim = np.sort(np.concatenate([r.requests["latency_ms"].to_numpy() for r in runs]))
    ax1.plot(sim, (np.arange(len(sim)) + 0.5) / len(sim), label="simulated", lw=1.5, ls="--")
    ax1.set_xscale("log")
    ax1.set_xlabel("response time at the target (ms)")
    ax1.set_ylabel("fraction of requests")
    ax1.set_title("Latency distribution")
    ax1.legend()
    per_minute = report.observed_per_minute
    if per_minute is not None and len(per_minute):
        t0 = float(per_minute.index.min())
        m = per_minute[per_minute.index < t0 + duration]
        _steps(ax2, (m.index.to_numpy() - t0) / 60.0, m.to_numpy() / 60.0, "observed", "-")
    tl = runs[0].timeline
    tl = tl[tl["time_s"] < duration]
    sim_min = (tl["requests_blue"] + tl["requests_green"]).groupby(tl["time_s"] // 60).sum()
    _steps(ax2, sim_min.index.to_numpy(), sim_min.to_numpy() / 60.0, "simulated", "--")
    ax2.set_xlabel("minute from the start of the logs")
    ax2.set_ylabel("requests per second (per-minute mean)")
    ax2.set_title("Rate over time")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _steps(ax, minutes: np.ndarray, rps: np.ndarray, label: str, ls: str) -> None:
    # one step per minute, the last one drawn to its end
    x = np.append(minutes, minutes[-1] + 1) if len(minutes) else minutes
    y = np.append(rps, rps[-1]) if len(rps) else rps
    ax.step(x, y, where="post", label=label, ls=ls)


def observed_frame(report: CalibrationReport) -> pd.DataFrame:
    """The check's rows as a table (one row per measure)."""
    rows = (report.check or {}).get("rows", {})
    return pd.DataFrame(
        [
            {
                "measure": k,
                "observed": v["observed"][0],
                "simulated": v["simulated"][0],
                "verdict": v["verdict"],
            }
            for k, v in rows.items()
        ]
    )

"""Sweep throughput and per-run overhead of each backend. Prints figures; asserts nothing.

1. A sweep of 20-minute canary deployments at 200 requests/s (``scenarios/canary-bad-green.yaml``
   with ``duration: 20m`` and ``load.rps: 200``) on the ``processes`` backend: ``--runs`` runs
   are timed, and the time of 1,000 runs is extrapolated from them (the target: under 5 minutes
   on 2 cores). A few serial runs of the same grid give the parallel efficiency.
2. The per-run overhead of the sweep machinery on each backend, measured with a runner that
   does not simulate (``--noop`` runs; start-up measured separately with 2 runs).

Usage::

    python benchmarks/bench_sweep.py                 # 200 canary runs, extrapolated to 1,000
    python benchmarks/bench_sweep.py --runs 1000     # the real thing
    python benchmarks/bench_sweep.py --skip-canary   # overheads only
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from bluegreen_sim import load_scenario, simulate
from bluegreen_sim.analysis.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
LOAD_BEFORE = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
SCENARIO = ROOT / "scenarios" / "canary-bad-green.yaml"


def noop_runner(scenario, seed):
    """Stands in for a simulation: one draw from the run's seed, a summary of two fields."""
    return {"requests_total": int(np.random.default_rng(seed).integers(1000)), "outcome": "NOOP"}


def canary(args) -> None:
    scenario = load_scenario(SCENARIO, overrides={"duration": "20m", "load.rps": 200})
    t = time.perf_counter()
    one = simulate(scenario, seed=1)
    single = time.perf_counter() - t
    s = one.summary
    print(
        f"one run in this process: {single:.2f} s ({s['requests_total']} requests, "
        f"outcome {s['outcome']}, controller {s['controller']})"
    )
    grid = {"green.error_rate": [0.001, 0.01, 0.03, 0.08]}
    # The same mix of grid points in this process: what one run costs one core.
    t = time.perf_counter()
    sample = sweep(scenario, grid, replications=args.serial // 4, entropy=1, progress=False)
    serial = (time.perf_counter() - t) / len(sample)
    print(f"serial, same grid: {len(sample)} runs at {serial:.2f} s/run")
    replications = max(1, args.runs // len(grid["green.error_rate"]))
    runs = replications * len(grid["green.error_rate"])
    t = time.perf_counter()
    df = sweep(
        scenario,
        grid,
        replications=replications,
        entropy=1,
        backend="processes",
        workers=args.workers,
        progress=True,
    )
    elapsed = time.perf_counter() - t
    errors = int(df["error"].notna().sum())
    per_run = elapsed / runs
    print(
        f"processes, {args.workers or os.cpu_count()} workers: {runs} runs in {elapsed:.1f} s "
        f"= {per_run * 1000:.0f} ms/run wall ({errors} errors; "
        f"{per_run * (args.workers or os.cpu_count()):.2f} core-s/run)"
    )
    workers = args.workers or os.cpu_count()
    print(
        f"parallel efficiency: {serial * runs / workers / elapsed:.0%} of {workers} cores "
        f"(load average before: {LOAD_BEFORE:.2f}; other work on the machine lowers it)"
    )
    estimate = elapsed if runs == 1000 else per_run * 1000
    label = "measured" if runs == 1000 else "extrapolated"
    print(f"1,000 runs ({label}): {estimate:.0f} s = {estimate / 60:.1f} min (target < 5 min)")
    print(df.groupby("green.error_rate")["outcome"].value_counts().unstack(fill_value=0))


def overheads(args) -> None:
    scenario = load_scenario(SCENARIO, overrides={"duration": "20m", "load.rps": 200})
    n = args.noop
    grid = {"green.error_rate": [0.001, 0.01]}
    cases = [
        ("serial", {}),
        ("processes", {}),
        ("processes", {"chunksize": 1}),
        ("dask", {}),
        ("dask", {"chunksize": 1}),
    ]
    print(
        f"\nper-run overhead with a no-op runner ({n} runs; start-up = a sweep of 2 runs; "
        f"best of {args.repeat}):"
    )
    print(f"{'backend':<24}{'start-up s':>12}{'total s':>10}{'ms/run':>10}")
    for backend, extra in cases:
        if backend == "dask":
            try:
                import dask.distributed  # noqa: F401
            except ImportError:
                print(f"{backend:<24}  (dask not installed)")
                continue
        times = []
        for runs in (2, n):
            best = float("inf")
            for _ in range(args.repeat):  # the best of a few: other load only adds time
                t = time.perf_counter()
                sweep(
                    scenario,
                    grid,
                    replications=runs // 2,
                    entropy=1,
                    backend=backend,
                    workers=args.workers,
                    runner=noop_runner,
                    progress=False,
                    **extra,
                )
                best = min(best, time.perf_counter() - t)
            times.append(best)
        per_run = (times[1] - times[0]) / (n - 2) * 1000
        name = backend + (f" chunksize={extra['chunksize']}" if extra else "")
        print(f"{name:<24}{times[0]:>12.2f}{times[1]:>10.2f}{per_run:>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="canary runs to time")
    parser.add_argument("--serial", type=int, default=8, help="runs timed serially")
    parser.add_argument("--noop", type=int, default=4000, help="no-op runs per backend")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (best is kept)")
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--skip-canary", action="store_true")
    parser.add_argument("--skip-overheads", action="store_true")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"load average {LOAD_BEFORE:.2f}"
    )
    if not args.skip_canary:
        canary(args)
    if not args.skip_overheads:
        overheads(args)


if __name__ == "__main__":
    main()

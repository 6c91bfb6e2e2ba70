"""Speed as a user sees it: the first ``simulate`` call in a fresh process, compile included.

The scenario is issue 14's: 1 hour at 1,000 requests/s (Poisson), 60 blue + 60 green
single-slot tasks, lognormal latency (median 40 ms, p99 150 ms), round robin, a 0.1 % error
rate, default health checks (every 30 s per target), a deployment that starts after a minute
(green at 10 % for 5 minutes, then 100 %). Also the 10 + 10 x 8-slot least-outstanding case.

Every figure comes from a fresh process (``python -c``-like child), so it includes importing the
package and numba's first call (compiled, or loaded from numba's on-disk cache). The per-request
SimPy model (``simpy_baseline.py``) is measured in the same invocation, and the ratio printed.

    python benchmarks/bench_speed.py                 # the table (fast extra, without numba)
    python benchmarks/bench_speed.py --repeat 3      # each figure three times (ranges)
    python benchmarks/bench_speed.py --compile       # cold and warm numba cache, first run
    python benchmarks/bench_speed.py --profile single  # cProfile of one first run (top entries)
    python benchmarks/bench_speed.py --floor         # what no data plane can go below
    python benchmarks/bench_speed.py --worker        # later runs of one process (a sweep worker)

``--floor`` measures, each in a fresh process, three costs that bound the first run from below
whatever the data plane does: the random numbers the run draws (the same streams, the same
counts), the control plane alone (the scenario at 1 request/s: health checks, alarms, the
deployment, the summary) and numba's first call (the kernels loaded from its on-disk cache).

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SCENARIO = {
    "name": "bench-speed",
    "duration": "1h",
    "load": {"rps": 1000},
    "service": {
        "tasks": 60,
        "concurrency": 1,
        "error_rate": 0.001,
        "latency": {"distribution": "lognormal", "median": "40ms", "p99": "150ms"},
        "startup": {"distribution": "constant", "value": "20s"},
    },
    "load_balancer": {"routing": "round_robin", "deregistration_delay": "30s"},
    "deployment": {
        "controller": "steps",
        "start": "1m",
        "steps": [{"weight": 10, "pause": "5m"}, {"weight": 100}],
    },
}

CASES = {
    "single": ({}, []),
    "lor8": (
        {
            "service.tasks": 10,
            "service.concurrency": 8,
            "load_balancer.routing": "least_outstanding_requests",
        },
        ["--slots", "8", "--tasks", "10", "--routing", "least_outstanding_requests"],
    ),
}

CHILD = """
import json, sys, time
t_start = time.perf_counter()
from bluegreen_sim import simulate
from bluegreen_sim.scenario import apply_overrides, scenario_from_dict
spec = json.loads(sys.argv[1])
raw = apply_overrides(spec["scenario"], spec["overrides"])
sc = scenario_from_dict(raw, "bench")
t0, c0 = time.perf_counter(), time.process_time()
result = simulate(sc, seed=1)
t1, c1 = time.perf_counter(), time.process_time()
s = result.summary
print(json.dumps({"simulate_s": t1 - t0, "cpu_s": c1 - c0, "with_import_s": t1 - t_start,
                  "requests": s["requests_total"], "p99": s["latency_p99_ms"],
                  "failed": s["requests_failed"]}))
"""


def child(case: str, env: dict[str, str], profile: str | None = None) -> dict:
    overrides, _ = CASES[case]
    spec = json.dumps({"scenario": SCENARIO, "overrides": overrides})
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", profile]
        path = Path(tempfile.gettempdir()) / "bench_speed_child.py"
        path.write_text(CHILD)
        cmd += [str(path), spec]
    else:
        cmd += ["-c", CHILD, spec]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline(case: str, seconds: int) -> tuple[float, float]:
    """Requests per wall and per CPU second of the per-request SimPy model (a fresh process)."""
    _, args = CASES[case]
    script = str(HERE / "simpy_baseline.py")
    out = subprocess.run(
        [sys.executable, script, "--seconds", str(seconds), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rates = [
        float(re.search(rf"requests/s \({k}\)\s*:\s*([\d,]+)", out).group(1).replace(",", ""))
        for k in ("wall", "cpu")
    ]
    return rates[0], rates[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("BLUEGREEN_NO_NUMBA", None)
    env.update(extra)
    return env


def _range(values: list[float], fmt: str = "{:.2f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if len(values) == 1 else f"{fmt.format(lo)}-{fmt.format(hi)}"


def table(repeat: int, seconds: int) -> None:
    """Each repeat measures the SimPy model and then ours, back to back (the same load on a
    shared machine); ratios pair the runs of one repeat."""
    rows = [
        ("single-slot 60+60, numba", "single", _env()),
        ("single-slot 60+60, no numba", "single", _env(BLUEGREEN_NO_NUMBA="1")),
        ("LOR 10+10 x 8, numba", "lor8", _env()),
    ]
    base: dict[str, list[tuple[float, float]]] = {c: [] for c in CASES}
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in rows}
    for _ in range(repeat):
        for c in CASES:
            base[c].append(baseline(c, seconds))
        for label, case, env in rows:
            runs[label].append(child(case, env))
    for c, rates in base.items():
        wall = _range([r[0] for r in rates], "{:,.0f}")
        cpu = _range([r[1] for r in rates], "{:,.0f}")
        print(f"per-request SimPy model ({c}, {seconds} s simulated): {wall} req/s wall, {cpu} cpu")
    print(
        f"{'first run in a fresh process':30} {'requests':>10} {'simulate s':>11} {'cpu s':>10} "
        f"{'+import s':>11} {'req/s':>19} {'x SimPy':>8} {'x (cpu)':>8}"
    )
    for label, case, _ in rows:
        rs = runs[label]
        rate = [r["requests"] / r["simulate_s"] for r in rs]
        ratio = [x / b[0] for x, b in zip(rate, base[case], strict=True)]
        cpu_ratio = [r["requests"] / r["cpu_s"] / b[1] for r, b in zip(rs, base[case], strict=True)]
        print(
            f"{label:30} {rs[0]['requests']:>10,} {_range([r['simulate_s'] for r in rs]):>11} "
            f"{_range([r['cpu_s'] for r in rs]):>10} "
            f"{_range([r['with_import_s'] for r in rs]):>11} "
            f"{_range(rate, '{:,.0f}'):>19} {_range(ratio, '{:.0f}'):>8} "
            f"{_range(cpu_ratio, '{:.0f}'):>8}"
        )


def compile_times(repeat: int) -> None:
    """First run with an empty numba cache (cold), then with the cache it left (warm)."""
    print(f"{'numba cache':12} {'case':8} {'simulate s':>11} {'cpu s':>7} {'+import s':>10}")
    for case in CASES:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as cache:
                # an out-of-tree cache, as for a package installed read-only
                env = _env(NUMBA_CACHE_DIR=cache)
                for label in ("cold", "warm"):
                    r = child(case, env)
                    print(
                        f"{label:12} {case:8} {r['simulate_s']:>11.2f} {r['cpu_s']:>7.2f} "
                        f"{r['with_import_s']:>10.2f}"
                    )


FLOOR_DRAWS = """
import sys, time
import numpy as np
rps, seconds, window = float(sys.argv[1]), int(sys.argv[2]), 1.0
t0 = time.perf_counter()
ss = np.random.SeedSequence(1).spawn(4)
arrivals, routing, service, errors = (np.random.default_rng(s) for s in ss)
n_total = 0
batch = []
for w in range(seconds):  # drawn window by window, as the data plane does
    n = arrivals.poisson(rps * window)
    t = w + window * arrivals.random(n)
    t.sort()
    batch.append(t)
    n_total += n
    if len(batch) * rps >= 10_000 or w == seconds - 1:  # served in passes of ~10,000
        m = sum(len(b) for b in batch)
        routing.random(m)
        np.exp(3.0 + 0.5 * service.standard_normal(m))
        errors.random(m)
        batch = []
print(time.perf_counter() - t0, n_total)
"""

FLOOR_NUMBA = """
import time
t0 = time.perf_counter()
from bluegreen_sim.engine import kernels
t1 = time.perf_counter()
kernels.warm_up()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


WORKER = """
import json, sys, time
from bluegreen_sim import simulate
from bluegreen_sim.engine import kernels
from bluegreen_sim.scenario import apply_overrides, scenario_from_dict
spec = json.loads(sys.argv[1])
sc = scenario_from_dict(apply_overrides(spec["scenario"], spec["overrides"]), "bench")
times = []
for i in range(3):
    if i == 1:
        t0 = time.perf_counter()
        kernels.warm_up()  # what a sweep chunk does when its runs repay it
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    simulate(sc, seed=1)
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def worker(repeat: int) -> None:
    """A sweep worker's runs: the first, numba's first call, then later runs of the process."""
    print(
        f"{'process':10} {'case':8} {'1st run s':>10} {'numba load s':>13} "
        f"{'2nd s':>7} {'3rd s':>7}"
    )
    for case in CASES:
        overrides, _ = CASES[case]
        spec = json.dumps({"scenario": SCENARIO, "overrides": overrides})
        for label, env in (("numba", _env()), ("no numba", _env(BLUEGREEN_NO_NUMBA="1"))):
            for _ in range(repeat):
                out = subprocess.run(
                    [sys.executable, "-c", WORKER, spec],
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=ROOT,
                    check=True,
                ).stdout
                t = json.loads(out.strip().splitlines()[-1])
                print(f"{label:10} {case:8} {t[0]:>10.2f} {t[1]:>13.2f} {t[2]:>7.2f} {t[3]:>7.2f}")


def floor(repeat: int) -> None:
    """Costs that bound a first run from below (each in a fresh process)."""
    rps, seconds = SCENARIO["load"]["rps"], 3600
    draws, control, numba = [], [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", FLOOR_DRAWS, str(rps), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        draws.append(float(out[0]))
        idle = dict(SCENARIO, load={"rps": 1})
        spec = json.dumps({"scenario": idle, "overrides": {}})
        out = subprocess.run(
            [sys.executable, "-c", CHILD, spec],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            check=True,
        ).stdout
        control.append(json.loads(out.strip().splitlines()[-1])["simulate_s"])
        out = subprocess.run(
            [sys.executable, "-c", FLOOR_NUMBA],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            check=True,
        ).stdout.split()
        numba.append(float(out[1]))
    print(
        f"random draws of the 1-hour single-slot run ({rps * seconds:,.0f} requests, "
        f"the same kinds and counts): {_range(draws)} s"
    )
    print(f"control plane alone (the same scenario at 1 request/s): {_range(control)} s")
    print(f"numba's first call in a fresh process, kernels cached on disk: {_range(numba)} s")
    print(
        f"draws + control plane: {_range([d + c for d, c in zip(draws, control, strict=True)])} s"
    )


def profile(case: str, no_numba: bool, top: int) -> None:
    import pstats

    env = _env(BLUEGREEN_NO_NUMBA="1") if no_numba else _env()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "prof")
        started = time.perf_counter()
        r = child(case, env, profile=out)
        print(f"profiled first run: {r} ({time.perf_counter() - started:.2f} s with profiler)")
        stats = pstats.Stats(out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (ranges)")
    parser.add_argument(
        "--baseline-seconds", type=int, default=120, help="simulated seconds of the SimPy model"
    )
    parser.add_argument("--compile", action="store_true", help="cold and warm numba cache")
    parser.add_argument("--profile", choices=sorted(CASES), help="cProfile one first run")
    parser.add_argument("--floor", action="store_true", help="costs no data plane avoids")
    parser.add_argument("--worker", action="store_true", help="later runs of one process")
    parser.add_argument("--no-numba", action="store_true", help="with --profile: plain Python")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeat)
    elif args.floor:
        floor(args.repeat)
    elif args.profile:
        profile(args.profile, args.no_numba, args.top)
    elif args.compile:
        compile_times(args.repeat)
    else:
        table(args.repeat, args.baseline_seconds)


if __name__ == "__main__":
    main()

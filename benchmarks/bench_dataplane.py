"""Benchmark of the hybrid data plane: prints figures, asserts nothing.

The issue's benchmark scenario: 1 hour at 1,000 requests/s (Poisson), 60 blue + 60 green
single-slot tasks, lognormal latency (median 40 ms, p99 150 ms; utilisation about 0.8), round
robin, green at 10 % for 5 minutes, then 100 %. Also 10 + 10 tasks with 8 slots each and
least-outstanding-requests routing, and the scaling with the number of requests.

Each configuration runs in a fresh process so its peak memory (max RSS) is its own.

    python benchmarks/bench_dataplane.py            # all configurations
    python benchmarks/bench_dataplane.py --quick    # 10-minute runs
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

BASE = {
    "name": "bench",
    "duration": "1h",
    "load": {"rps": 1000},
    "service": {
        "tasks": 60,
        "concurrency": 1,
        "latency": {"distribution": "lognormal", "median": "40ms", "p99": "150ms"},
        "startup": {"distribution": "constant", "value": "20s"},
    },
    "load_balancer": {"routing": "round_robin", "deregistration_delay": "30s"},
    "deployment": {
        "controller": "steps",
        "start": "0s",
        "steps": [{"weight": 10, "pause": "5m"}, {"weight": 100}],
    },
}

LOR_ARGS = ["--slots", "8", "--tasks", "10", "--routing", "least_outstanding_requests"]

CONFIGS = {
    "single-slot round robin (60+60 x 1)": {},
    "8 slots, least outstanding (10+10 x 8)": {
        "service.tasks": 10,
        "service.concurrency": 8,
        "load_balancer.routing": "least_outstanding_requests",
    },
    "8 slots, round robin (10+10 x 8)": {"service.tasks": 10, "service.concurrency": 8},
    "single-slot weighted random (60+60 x 1)": {"load_balancer.routing": "weighted_random"},
}


def run_one(overrides: dict, duration: str) -> dict:
    """Run in this process and return the figures."""
    from bluegreen_sim.engine.simulation import simulate
    from bluegreen_sim.scenario import apply_overrides, scenario_from_dict

    raw = apply_overrides(BASE, {**overrides, "duration": duration})
    scenario = scenario_from_dict(raw, "bench")
    start, cpu = time.perf_counter(), time.process_time()
    result = simulate(scenario, seed=1)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    s = result.summary
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "requests": s["requests_total"],
        "req_per_s": s["requests_total"] / wall,
        "p99_ms": s["latency_p99_ms"],
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10-minute runs")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also measure the per-request SimPy model here (120 simulated s per mode)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_one(spec["overrides"], spec["duration"])))
        return
    baseline = 70_000  # req/s of idiomatic per-request SimPy, as the issue states it
    measured = {}
    if args.baseline:
        script = str(Path(__file__).with_name("simpy_baseline.py"))
        for label, extra in (("single-slot", []), ("8 slots, least outstanding", LOR_ARGS)):
            out = subprocess.run(
                [sys.executable, script, "--seconds", "120", *extra],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rate = re.search(r"requests/s \(wall\)\s*:\s*([\d,]+)", out).group(1)
            measured[label] = int(rate.replace(",", ""))
    duration = "10m" if args.quick else "1h"
    print(
        f"{'configuration':42} {'requests':>10} {'wall s':>8} {'cpu s':>7} {'req/s':>11} "
        f"{'x SimPy':>8} "
        f"{'p99 ms':>8} {'max RSS MB':>10}"
    )
    runs = [(name, ov, duration) for name, ov in CONFIGS.items()]
    if not args.quick:
        runs += [
            ("scaling: single-slot, 15 min", {}, "15m"),
            ("scaling: single-slot, 30 min", {}, "30m"),
        ]
    for name, overrides, dur in runs:
        child = json.dumps({"overrides": overrides, "duration": dur})
        out = subprocess.run(
            [sys.executable, __file__, "--child", child], capture_output=True, text=True, check=True
        )
        f = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name:42} {f['requests']:>10,} {f['wall_s']:>8.2f} {f['cpu_s']:>7.2f} "
            f"{f['req_per_s']:>11,.0f} "
            f"{f['req_per_s'] / baseline:>8.1f} {f['p99_ms']:>8.1f} {f['max_rss_mb']:>10.0f}"
        )
    print(
        f"(x SimPy: against {baseline:,} req/s, the idiomatic per-request SimPy model as the "
        "issue states it; --baseline measures it here)"
    )
    for label, rate in measured.items():
        print(f"per-request SimPy model measured here, {label}: {rate:,} req/s")


if __name__ == "__main__":
    main()

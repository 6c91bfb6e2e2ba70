"""Peak memory against simulated time: what a day or a week of traffic costs.

Each run is a fresh process (its max RSS is its own). The scenarios are ``bench_speed.py``'s
(60 + 60 single-slot tasks, 1,000 requests/s, a 0.1 % error rate, default health checks, a
deployment after a minute), and the same at 100 requests/s on 6 + 6 tasks (the same
utilisation). The figures: requests, wall time, peak RSS, and the RSS growth per simulated hour
between a short and a long run (what the records cost, beyond the fixed cost of the imports).

    python benchmarks/bench_memory.py                # 1 h and 24 h at 1,000 req/s
    python benchmarks/bench_memory.py --week         # also 1 h and 7 days at 100 req/s
    python benchmarks/bench_memory.py --only week    # only the 7-day run (and its 1 h)

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import ROOT, SCENARIO

CHILD = """
import json, resource, sys, time
from bluegreen_sim import simulate
from bluegreen_sim.scenario import apply_overrides, scenario_from_dict
spec = json.loads(sys.argv[1])
sc = scenario_from_dict(apply_overrides(spec["scenario"], spec["overrides"]), "bench")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
result = simulate(sc, seed=1)
wall = time.perf_counter() - t0
s = result.summary
print(json.dumps({"wall_s": wall, "requests": s["requests_total"],
                  "rss_before_mb": before,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "p99": s["latency_p99_ms"], "worst_minute_p99": s["worst_minute_p99_ms"],
                  "timeline_rows": len(result.timeline), "metrics_rows": len(result.metrics)}))
"""

DAY = {"duration": "24h"}
WEEK = {
    "load.rps": 100,
    "service.tasks": 6,
}


def run(overrides: dict) -> dict:
    spec = json.dumps({"scenario": SCENARIO, "overrides": overrides})
    out = subprocess.run(
        [sys.executable, "-c", CHILD, spec], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def pair(label: str, base: dict, long: str, hours: float) -> None:
    short = run({**base, "duration": "1h"})
    full = run({**base, "duration": long})
    per_hour = (full["peak_mb"] - short["peak_mb"]) / (hours - 1)
    for name, r in (("1 h", short), (long, full)):
        print(
            f"{label:28} {name:>5} {r['requests']:>12,} {r['wall_s']:>9.1f} "
            f"{r['rss_before_mb']:>10.0f} {r['peak_mb']:>9.0f}"
        )
    print(f"{label:28} growth per simulated hour: {per_hour:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", action="store_true", help="also the 7-day run at 100 req/s")
    parser.add_argument("--only", choices=("day", "week"))
    args = parser.parse_args()
    print(
        f"{'scenario':28} {'span':>5} {'requests':>12} {'wall s':>9} "
        f"{'RSS pre MB':>10} {'peak MB':>9}"
    )
    if args.only != "week":
        pair("1,000 req/s, 60+60 tasks", {}, "24h", 24)
    if args.week or args.only == "week":
        pair("100 req/s, 6+6 tasks", WEEK, "7d", 168)


if __name__ == "__main__":
    main()

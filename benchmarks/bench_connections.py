"""Benchmark of the long-lived connection pool: prints figures, asserts nothing.

Lesson 24's scenario (15 minutes, 100 requests/s, 10 + 10 tasks, blue removed at once) with
0, 2,000, 20,000 and 200,000 long-lived connections (30-minute lifetimes, reconnect jitter
600 s, so the storm stays servable), each in-process, best of three. The pool costs one
vectorised pass over its arrays per data-plane window, so its time grows with the number of
connections, not with the requests.

    python benchmarks/bench_connections.py
"""

from __future__ import annotations

import time
from pathlib import Path

from bluegreen_sim import load_scenario, simulate

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "24-reconnect-storm.yaml"


def main() -> None:
    print(f"{'connections':>12} {'seconds':>8} {'handshakes':>11} {'requests':>9}")
    for count in (0, 2_000, 20_000, 200_000):
        sc = load_scenario(
            SCENARIO,
            {"load.connections.count": count, "load.connections.reconnect_jitter": "600s"},
        )
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            summary = simulate(sc).summary
            best = min(best, time.perf_counter() - start)
        print(
            f"{count:>12,} {best:>8.2f} {summary['connection_handshakes'] or 0:>11,} "
            f"{summary['requests_total']:>9,}"
        )


if __name__ == "__main__":
    main()

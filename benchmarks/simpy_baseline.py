"""Baseline speed of the idiomatic per-request SimPy model of the benchmark scenario.

This is the yardstick the project's hybrid engine is measured against
(ENGINE_NOTES.md section 1): one generator process per request and one
``simpy.Resource`` per ECS task, written the way a SimPy tutorial would.

Scenario (one simulated hour in full): 1,000 requests/s Poisson into an ALB;
``--tasks`` blue and ``--tasks`` green tasks with ``--slots`` slots each, all in
service throughout; lognormal service time with median 40 ms and p99 150 ms;
green weight 0 % before t = 300 s, 10 % for five minutes, then 100 %.

By default only the first ``--seconds 60`` are simulated and the wall time is
extrapolated to the hour, since the cost per request does not depend on the
phase. Run ``--seconds 3600`` for the real thing (about a minute or more).

Examples:
    python benchmarks/simpy_baseline.py --seconds 60
    python benchmarks/simpy_baseline.py --slots 8 --tasks 10 --routing least_outstanding_requests

The script is self-contained on purpose: it must not import the project or the
test helpers, so that its number measures SimPy and nothing else. It prints
figures and asserts nothing about time (machines differ).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

HOUR_S = 3600.0
CANARY_START_S = 300.0
CANARY_END_S = 600.0
CANARY_PERCENT = 10.0
Z_099 = 2.3263478740408408  # standard normal 99th percentile
CHUNK = 1 << 16  # random numbers are drawn in chunks: cheaper, same statistics


def green_percent(t: float) -> float:
    """Green weight of the scenario at time ``t`` (piecewise constant)."""
    if t < CANARY_START_S:
        return 0.0
    if t < CANARY_END_S:
        return CANARY_PERCENT
    return 100.0


class Baseline:
    """The idiomatic model: an arrival process that spawns one process per request.

    Args:
        tasks: Tasks per revision (blue tasks are 0..tasks-1, green the rest).
        slots: Concurrency of each task (``simpy.Resource`` capacity).
        routing: "round_robin", "random" or "least_outstanding_requests".
        rps: Poisson arrival rate.
        median: Median service time in seconds.
        p99: 99th-percentile service time in seconds.
        seed: Seed for numpy's generator.
    """

    def __init__(
        self,
        tasks: int,
        slots: int,
        routing: str,
        rps: float,
        median: float,
        p99: float,
        seed: int,
    ) -> None:
        self.env = simpy.Environment()
        self.tasks = tasks
        self.routing = routing
        self.rps = rps
        self.resources = [simpy.Resource(self.env, capacity=slots) for _ in range(2 * tasks)]
        # Requests routed to a task and not yet answered: what LOR looks at.
        self.in_flight = [0] * (2 * tasks)
        self.rr_counter = [0, 0]  # per group: blue, green
        self.rng = np.random.default_rng(seed)
        self.log_mu = math.log(median)
        self.log_sigma = math.log(p99 / median) / Z_099
        self.latency: list[float] = []
        self.group_of_request: list[int] = []
        self._refill()

    def _refill(self) -> None:
        self.gaps = self.rng.exponential(1.0 / self.rps, CHUNK).tolist()
        self.uniforms = self.rng.random(CHUNK).tolist()
        self.target_uniforms = self.rng.random(CHUNK).tolist()
        self.services = self.rng.lognormal(self.log_mu, self.log_sigma, CHUNK).tolist()
        self.cursor = 0

    def pick(self, group: int, u: float) -> int:
        """Index of the task that receives the request in ``group`` (0 blue, 1 green)."""
        base = group * self.tasks
        if self.routing == "round_robin":
            k = self.rr_counter[group]
            self.rr_counter[group] = k + 1
            return base + k % self.tasks
        if self.routing == "random":
            return base + int(u * self.tasks)
        # least_outstanding_requests: min() keeps the first minimum, i.e. the
        # lowest index among ties, as the brief specifies.
        return min(range(base, base + self.tasks), key=self.in_flight.__getitem__)

    def arrivals(self, until: float) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals on [0, until), each handed to its own request process."""
        env = self.env
        while True:
            if self.cursor == CHUNK:
                self._refill()
            i = self.cursor
            self.cursor += 1
            yield env.timeout(self.gaps[i])
            if env.now >= until:
                return
            group = 1 if self.uniforms[i] < green_percent(env.now) / 100.0 else 0
            task = self.pick(group, self.target_uniforms[i])
            self.group_of_request.append(group)
            env.process(self.request(task, self.services[i]))

    def request(self, task: int, service_time: float) -> Generator[simpy.Event, Any, None]:
        """One request: wait FIFO for a slot at its task, get served, leave."""
        env = self.env
        arrival = env.now
        self.in_flight[task] += 1
        with self.resources[task].request() as slot:
            yield slot
            yield env.timeout(service_time)
        self.in_flight[task] -= 1
        self.latency.append(env.now - arrival)

    def run(self, seconds: float) -> None:
        """Simulate arrivals on [0, seconds) and drain the requests in flight."""
        self.env.process(self.arrivals(seconds))
        self.env.run()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="simulated seconds (default 60)"
    )
    parser.add_argument("--tasks", type=int, default=60, help="tasks per revision (default 60)")
    parser.add_argument(
        "--slots", type=int, default=1, help="concurrent requests per task (default 1)"
    )
    parser.add_argument(
        "--routing",
        choices=("round_robin", "random", "least_outstanding_requests"),
        default="round_robin",
    )
    parser.add_argument("--rps", type=float, default=1000.0, help="arrival rate (default 1000)")
    parser.add_argument("--median-ms", type=float, default=40.0)
    parser.add_argument("--p99-ms", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    model = Baseline(
        tasks=args.tasks,
        slots=args.slots,
        routing=args.routing,
        rps=args.rps,
        median=args.median_ms / 1000.0,
        p99=args.p99_ms / 1000.0,
        seed=args.seed,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    model.run(args.seconds)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0

    n = len(model.latency)
    groups = np.asarray(model.group_of_request)
    lat_ms = np.asarray(model.latency) * 1000.0
    # env._eid is SimPy's private event-id counter (an itertools.count in SimPy
    # 4.1); next() on it, after the run, tells how many events were scheduled.
    eid = getattr(model.env, "_eid", None)
    events = eid if isinstance(eid, int) else next(eid) if eid is not None else None
    rate = n / wall
    mode = f"{args.tasks}+{args.tasks} tasks x {args.slots} slot(s), {args.routing}"
    print(f"mode               : {mode}")
    print(f"simulated seconds  : {args.seconds:g}")
    blue, green = int((groups == 0).sum()), int((groups == 1).sum())
    print(f"requests           : {n:,} (blue {blue:,}, green {green:,})")
    print(f"wall seconds       : {wall:.2f}")
    print(f"requests/s (wall)  : {rate:,.0f}")
    print(f"requests/s (cpu)   : {n / cpu:,.0f}")
    if events is not None and n:
        print(f"SimPy events/req   : {events / n:.2f}")
    if n:
        print(
            f"latency ms         : mean {lat_ms.mean():.2f}, p50 {np.percentile(lat_ms, 50):.2f}, "
            f"p99 {np.percentile(lat_ms, 99):.2f}"
        )
    hour_requests = args.rps * HOUR_S
    hour_wall = hour_requests / rate
    print(f"extrapolated 1 h   : {hour_wall:,.0f} wall seconds for {hour_requests:,.0f} requests")


if __name__ == "__main__":
    main()

"""The "obviously right" reference model: one SimPy process per request.

This model exists to cross-check the project's fast (vectorised, windowed) data
plane statistically. It is deliberately slow and plain: every request is a
generator process, every ECS task is a ``simpy.Resource(capacity=concurrency)``
with its FIFO queue, and the rules below are implemented literally, one
``if`` each, so that a reader can verify them by eye.

Semantics (times in seconds):

* Arrivals are Poisson(``rps``) on [0, ``duration``). The run continues past
  ``duration`` until every admitted request has finished, so every arrival has
  exactly one row.
* Each arrival picks a target group: green with probability ``w/100`` where
  ``w`` is the green percentage in force at the arrival (``weights`` are
  piecewise-constant breakpoints; before the first breakpoint ``w = 0``), blue
  otherwise.
* Within the group it picks a target that is *in service* at that instant:
  ``start <= t``, not draining (``t < drain_at``) and not stopped (``t < stop``).
  ``round_robin`` keeps one counter per group and takes
  ``in_service[counter % len(in_service)]``; ``weighted_random`` picks uniformly.
  No target in service -> status 503 at the arrival (latency 0, task -1).
* At the task the request waits FIFO for a slot, is served for a service time
  drawn from ``service``, then ends with 500 with probability
  ``error_rate[revision]``, else 200.
* If the task is killed (``stop``) while the request waits or is in service,
  the response is 502 at the kill time. A request whose service ends exactly at
  the kill time completes normally. A draining task keeps serving what it has.
* If the task-side outcome would come later than ``arrival + idle_timeout``,
  the client gets 504 at ``arrival + idle_timeout`` instead; the task still
  works on the request, so its slot stays busy until the service ends (or the
  task is killed). Applying this rule after the task-side outcome is known is
  equivalent to racing a timer, and keeps the request process simple.

Randomness: four independent streams (arrivals, routing, service, errors) are
spawned from ``SeedSequence(seed)``, and every arrival consumes exactly one
routing pair, one service time and one error draw whether or not it is served.
So two configurations that differ only in, say, a kill time see identical
arrivals and draws (common random numbers), which the tests exploit.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

#: Standard normal 99th percentile (same constant as tests/theory.py; repeated
#: so that this module imports on its own, e.g. from the benchmarks).
Z_099 = 2.3263478740408408

REVISIONS = ("blue", "green")
ROUTINGS = ("round_robin", "weighted_random")

OK, SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE, GATEWAY_TIMEOUT = 200, 500, 502, 503, 504

#: Column names of the result, in order.
COLUMNS = ("arrival_s", "revision", "task", "start_s", "end_s", "finish_s", "latency_ms", "status")


def _default_weights() -> list[tuple[float, float]]:
    return [(0.0, 0.0)]


def _default_service() -> dict[str, Any]:
    return {"distribution": "exponential", "mean": 0.008}


@dataclass
class RefConfig:
    """Input of :func:`run_reference`; plain data so it pickles and prints.

    Attributes:
        duration: Length of the arrival window [0, duration) in seconds.
        rps: Poisson arrival rate (requests per second), constant.
        targets: One dict per ECS task: ``revision`` ("blue"/"green"),
            ``concurrency`` (slots, default 1), ``start`` (enters service,
            default 0), ``stop`` (killed, or None), ``drain_at`` (stops
            receiving new requests, or None).
        weights: ``(time, green_percent)`` breakpoints, piecewise constant.
        routing: "round_robin" or "weighted_random" (uniform in the group).
        service: ``{"distribution": "exponential", "mean": m}``,
            ``{"distribution": "constant", "mean": m}`` or
            ``{"distribution": "lognormal", "median": m, "p99": q}``.
        error_rate: Probability of a 500 per revision (missing -> 0).
        idle_timeout: ALB idle timeout in seconds (504 beyond it).
        seed: Entropy for ``numpy.random.SeedSequence``.
    """

    duration: float
    rps: float
    targets: list[dict[str, Any]]
    weights: list[tuple[float, float]] = field(default_factory=_default_weights)
    routing: str = "round_robin"
    service: dict[str, Any] = field(default_factory=_default_service)
    error_rate: dict[str, float] = field(default_factory=dict)
    idle_timeout: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Fail early on inputs whose meaning would otherwise be a guess."""
        if self.duration <= 0 or self.rps <= 0 or self.idle_timeout <= 0:
            raise ValueError("duration, rps and idle_timeout must be positive")
        if self.routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {ROUTINGS}, got {self.routing!r}")
        for i, t in enumerate(self.targets):
            if t.get("revision") not in REVISIONS:
                raise ValueError(f"target {i}: revision must be one of {REVISIONS}")
            if int(t.get("concurrency", 1)) < 1:
                raise ValueError(f"target {i}: concurrency must be >= 1")
            start, stop = t.get("start", 0.0), t.get("stop")
            if stop is not None and stop < start:
                raise ValueError(f"target {i}: stop {stop} before start {start}")
        times = [w[0] for w in self.weights]
        if times != sorted(times):
            raise ValueError("weights breakpoints must be sorted by time")
        if any(not 0 <= w[1] <= 100 for w in self.weights):
            raise ValueError("green percentages must be in [0, 100]")
        if any(not 0 <= r <= 1 for r in self.error_rate.values()):
            raise ValueError("error rates must be in [0, 1]")
        _service_sampler(self.service)  # validates the service spec


def _service_sampler(spec: dict[str, Any]) -> Callable[[np.random.Generator], float]:
    """Turn a service spec into a function drawing one service time from a generator."""
    kind = spec.get("distribution")
    if kind == "exponential":
        mean = float(spec["mean"])
        return lambda rng: rng.exponential(mean)
    if kind == "constant":
        mean = float(spec["mean"])
        return lambda rng: mean
    if kind == "lognormal":
        median, p99 = float(spec["median"]), float(spec["p99"])
        if not 0 < median < p99:
            raise ValueError("lognormal needs 0 < median < p99")
        mu, sigma = math.log(median), math.log(p99 / median) / Z_099
        return lambda rng: rng.lognormal(mu, sigma)
    raise ValueError(f"unknown service distribution {kind!r}")


class _Task:
    """One ECS task: a FIFO resource with ``concurrency`` slots and a kill switch."""

    def __init__(self, env: simpy.Environment, index: int, spec: dict[str, Any]) -> None:
        self.index = index
        self.revision: str = spec["revision"]
        self.start: float = float(spec.get("start", 0.0))
        self.stop: float | None = spec.get("stop")
        self.drain_at: float | None = spec.get("drain_at")
        self.slots = simpy.Resource(env, capacity=int(spec.get("concurrency", 1)))
        # Succeeds at the stop time; every request at this task waits on it too.
        self.killed = env.event()

    def in_service(self, t: float) -> bool:
        """Whether the load balancer may route a new request here at time ``t``."""
        return (
            self.start <= t
            and (self.drain_at is None or t < self.drain_at)
            and (self.stop is None or t < self.stop)
        )


def _killer(env: simpy.Environment, task: _Task) -> Generator[simpy.Event, Any, None]:
    """Kill ``task`` at its stop time."""
    yield env.timeout(task.stop - env.now)
    task.killed.succeed()


class _Model:
    """Wiring of one run: tasks, random streams, the arrival process and the log."""

    def __init__(self, cfg: RefConfig) -> None:
        self.cfg = cfg
        self.env = simpy.Environment()
        streams = np.random.SeedSequence(cfg.seed).spawn(4)
        self.arrival_rng, self.routing_rng, self.service_rng, self.error_rng = (
            np.random.default_rng(s) for s in streams
        )
        self.draw_service = _service_sampler(cfg.service)
        self.tasks = [_Task(self.env, i, spec) for i, spec in enumerate(cfg.targets)]
        self.weight_times = [float(t) for t, _ in cfg.weights]
        self.weight_values = [float(w) for _, w in cfg.weights]
        self.rr_counter = dict.fromkeys(REVISIONS, 0)
        self.rows: list[dict[str, Any]] = []

    def green_percent(self, t: float) -> float:
        """Green weight in force at ``t`` (0 before the first breakpoint)."""
        i = bisect.bisect_right(self.weight_times, t) - 1
        return self.weight_values[i] if i >= 0 else 0.0

    def pick_target(self, revision: str, t: float, u: float) -> _Task | None:
        """Route within the group ``revision``; None when nothing is in service."""
        candidates = [
            task for task in self.tasks if task.revision == revision and task.in_service(t)
        ]
        if not candidates:
            return None
        if self.cfg.routing == "round_robin":
            task = candidates[self.rr_counter[revision] % len(candidates)]
            self.rr_counter[revision] += 1
            return task
        return candidates[min(int(u * len(candidates)), len(candidates) - 1)]

    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals; each one is routed and handed to its own process."""
        cfg = self.cfg
        while True:
            yield self.env.timeout(self.arrival_rng.exponential(1.0 / cfg.rps))
            now = self.env.now
            if now >= cfg.duration:
                return
            # Draw everything for this arrival up front, always in the same
            # amounts, so that the streams stay aligned across configurations.
            u_group, u_target = self.routing_rng.random(2)
            service_time = self.draw_service(self.service_rng)
            u_error = self.error_rng.random()

            revision = "green" if u_group < self.green_percent(now) / 100.0 else "blue"
            row = {"arrival_s": now, "revision": revision, "task": -1, "start_s": math.nan}
            self.rows.append(row)
            task = self.pick_target(revision, now, u_target)
            if task is None:
                row.update(end_s=math.nan, finish_s=now, status=UNAVAILABLE)
                continue
            row["task"] = task.index
            fails = u_error < cfg.error_rate.get(revision, 0.0)
            self.env.process(self.request(task, row, service_time, fails))

    def request(
        self, task: _Task, row: dict[str, Any], service_time: float, fails: bool
    ) -> Generator[simpy.Event, Any, None]:
        """One request at one task: queue, serve, answer (or be killed)."""
        env = self.env
        with task.slots.request() as slot:
            yield slot | task.killed
            if task.killed.triggered:  # killed while queued (or at the instant it got a slot)
                self.respond(row, env.now, BAD_GATEWAY)
                return
            row["start_s"] = env.now
            end = env.now + service_time
            yield env.timeout(service_time) | task.killed
            if env.now < end:  # the kill came first: the request was in service
                self.respond(row, env.now, BAD_GATEWAY)
            else:
                self.respond(row, env.now, SERVER_ERROR if fails else OK)

    def respond(self, row: dict[str, Any], task_done: float, status: int) -> None:
        """Record the task-side outcome, replaced by 504 if the client gave up first."""
        row["end_s"] = task_done
        deadline = row["arrival_s"] + self.cfg.idle_timeout
        if task_done > deadline:
            row.update(finish_s=deadline, status=GATEWAY_TIMEOUT)
        else:
            row.update(finish_s=task_done, status=status)

    def run(self) -> dict[str, np.ndarray]:
        """Simulate until every request is answered; return columns in arrival order."""
        for task in self.tasks:
            if task.stop is not None:
                self.env.process(_killer(self.env, task))
        self.env.process(self.arrivals())
        self.env.run()
        return _columns(self.rows)


def _columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Turn row dicts into the column arrays documented in :func:`run_reference`."""
    arrival = np.array([r["arrival_s"] for r in rows], dtype=float)
    finish = np.array([r["finish_s"] for r in rows], dtype=float)
    return {
        "arrival_s": arrival,
        "revision": np.array([r["revision"] for r in rows], dtype="<U5"),
        "task": np.array([r["task"] for r in rows], dtype=np.int64),
        "start_s": np.array([r["start_s"] for r in rows], dtype=float),
        "end_s": np.array([r["end_s"] for r in rows], dtype=float),
        "finish_s": finish,
        "latency_ms": (finish - arrival) * 1000.0,
        "status": np.array([r["status"] for r in rows], dtype=np.int64),
    }


def run_reference(cfg: RefConfig) -> dict[str, np.ndarray]:
    """Simulate ``cfg`` request by request.

    Args:
        cfg: The scenario.

    Returns:
        Dict of equal-length numpy arrays, one entry per arrival in arrival
        order (see :data:`COLUMNS`):

        * ``arrival_s``: arrival time at the load balancer;
        * ``revision``: target group chosen ("blue"/"green");
        * ``task``: index into ``cfg.targets``, -1 for a 503;
        * ``start_s``: service start at the task (NaN if never started);
        * ``end_s``: when the task let go of the request: service end or
          kill time (NaN for a 503); after a 504 it is later than ``finish_s``;
        * ``finish_s``: when the client got its response;
        * ``latency_ms``: ``(finish_s - arrival_s) * 1000``;
        * ``status``: 200, 500, 502, 503 or 504.
    """
    return _Model(cfg).run()


def to_rows(result: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Convert :func:`run_reference` columns to a list of plain row dicts."""
    n = len(result["arrival_s"])
    return [{k: result[k][i].item() for k in COLUMNS} for i in range(n)]

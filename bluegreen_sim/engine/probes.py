"""Requests served beside production traffic: health-check probes and test-listener traffic.

Both are served by the tasks like production requests (they queue behind them), but are counted
on their own. :func:`late_timeout` lets the data plane wake after every control change of an
instant.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

if TYPE_CHECKING:
    from ..aws.fargate import Task

LATE = 2  # SimPy priority after NORMAL (1): the data plane sees every change made at t0


def late_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout processed after all ordinary events scheduled for the same instant."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, LATE, delay)
    return event


class Probe:
    """One health-check probe of a target; served by the task like a request."""

    __slots__ = ("deferred", "done", "failed_draw", "finish", "served", "task", "time", "timeout")

    def __init__(
        self, env: simpy.Environment, time: float, task: Task, timeout: float, deferred: bool
    ):
        self.time, self.task, self.timeout = time, task, timeout
        # deferred: nobody waits on ``done`` (there is none); the checker reads the outcome later
        self.done = None if deferred else simpy.Event(env)
        self.finish = math.inf
        self.failed_draw = False
        self.served = False
        self.deferred = deferred

    def _end(self) -> float:
        stop = self.task.stopped_at
        if stop is not None and stop <= self.time:
            return self.time  # connection refused at once
        return self.finish if stop is None else min(self.finish, stop)

    def result_at(self) -> float:
        """When the checker knows the result: the response, or the timeout."""
        return min(self._end(), self.time + self.timeout)

    def passed(self) -> bool:
        stop = self.task.stopped_at
        killed = stop is not None and stop < self.finish
        starting = self.time < self.task.answers_from  # the application is not listening yet
        return (
            not killed
            and not starting
            and not self.failed_draw
            and self.finish - self.time <= self.timeout
        )

    def reason(self) -> str:
        if self.time < self.task.answers_from:
            return "connection refused: application starting"
        stop = self.task.stopped_at
        if stop is not None and stop < self.finish:
            return "connection closed"
        if self.finish - self.time > self.timeout:
            return "timeout"
        return "bad response"


class TestTraffic:
    """Requests sent by a hook through the test listener (or the production route)."""

    def __init__(self, env: simpy.Environment, source_id: int, times: np.ndarray, via: str):
        self.id = source_id
        self.times = np.asarray(times, dtype=float)
        self.via = via  # "test" (test listener → green) or "production" (weights)
        self.next = 0
        self.finished = simpy.Event(env)
        self.status: list[np.ndarray] = []
        self.latency: list[np.ndarray] = []
        self.revision: list[np.ndarray] = []
        self.received = 0

    def take(self, t1: float) -> np.ndarray:
        end = int(np.searchsorted(self.times, t1, side="left"))
        out = self.times[self.next : end]
        self.next = end
        return out

    def collect(self, status: np.ndarray, latency: np.ndarray, revision: np.ndarray) -> None:
        self.status.append(status)
        self.latency.append(latency)
        self.revision.append(revision)
        self.received += len(status)
        if self.received >= len(self.times) and not self.finished.triggered:
            self.finished.succeed()

    def results(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(status, latency in seconds, revision index) of every request sent."""
        if not self.status:
            return np.empty(0, np.int16), np.empty(0), np.empty(0, np.int8)
        return (
            np.concatenate(self.status),
            np.concatenate(self.latency),
            np.concatenate(self.revision),
        )

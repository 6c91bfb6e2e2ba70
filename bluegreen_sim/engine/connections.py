"""Long-lived client connections (WebSocket, gRPC streams, HTTP keep-alive) and reconnect storms.

A share of the clients hold a connection open for minutes: it is pinned to the target its
handshake reached and carries no load-balancing decision afterwards. That matters when targets
go away. Blue/green moves *new* connections to green, but the ones already open stay on blue
until blue is deregistered and stopped; then they are dropped together, and every client
reconnects within its jitter window: a burst of handshakes on the targets that remain.

The pool is a set of numpy arrays, one entry per connection, never a Python object per client:

- ``task``: the target (task id) the connection is on, -1 while it is not connected;
- ``ends_at``: when the connection ends by itself (its lifetime);
- ``next_at``: when its client sends its next handshake (at the end of its lifetime, or within
  the jitter window after a drop).

Handshakes are production requests: :class:`HandshakeArrivals` merges them, window by window,
into the load's arrivals, so the data plane routes, queues and serves them like any request
(the revision's service time, its errors, 503 when the group has no target). The pool pins a
connection to a target chosen as the ALB would for a new connection: the target group by the
listener's weights, then uniformly among the group's targets in service. (That is the pool's own
draw, not the data plane's routing of the handshake request; both spread evenly over the same
targets, and keeping them apart keeps the data plane unaware of connections.)

Model choices, stated in docs/semantics.md: open connections at the start have the equilibrium
residual lifetime (length-biased, times a uniform); a client whose connection ends by itself
reconnects at once; a dropped client reconnects uniformly within ``reconnect_jitter`` from the
drop, but not before the next data-plane window (the windows up to it are already drawn); a
handshake that meets no target (503) retries within the jitter window, from the next window on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .distributions import Sampler

if TYPE_CHECKING:
    from ..aws.fargate import Task
    from ..scenario import ConnectionsSpec
    from .simulation import World

# Candidates per connection when drawing the equilibrium residual lifetimes at the start.
_CANDIDATES = 4


class ConnectionPool:
    """Every long-lived connection: where it is, when it ends, when its client comes back."""

    def __init__(self, world: World, spec: ConnectionsSpec, rng: np.random.Generator):
        self.world = world
        self.spec = spec
        # Handshakes draw window by window, drops at the instant a task stops: two streams, so
        # the draws do not depend on when the data plane serves its (possibly batched) windows.
        self.rng, self.drop_rng = rng.spawn(2)
        self.jitter = spec.reconnect_jitter
        self.lifetime = Sampler(spec.lifetime, world.scenario)
        n = spec.count
        self.task = np.full(n, -1, np.int64)
        self.ends_at = np.full(n, math.inf)
        self.next_at = np.full(n, math.inf)
        self.drops: list[dict] = []  # one row per stopped target that held connections
        self.handshakes = 0
        self.reconnects_per_s = np.zeros(int(math.ceil(world.scenario.duration)) + 1, np.int64)

    def open_on(self, tasks: list[Task]) -> None:
        """Open every connection at t=0, spread evenly over ``tasks`` (blue, already healthy).

        Residual lifetimes follow the equilibrium of a renewal process: a lifetime drawn with
        probability proportional to its length, times a uniform.
        """
        n = len(self.task)
        if not n or not tasks:
            return
        ids = np.array([t.id for t in tasks], np.int64)
        self.task[:] = ids[np.arange(n) % len(ids)]
        candidates = np.asarray(self.lifetime.sample(self.rng, _CANDIDATES * n), dtype=float)
        weights = candidates / candidates.sum()
        chosen = self.rng.choice(candidates, size=n, p=weights)
        self.ends_at[:] = chosen * self.rng.random(n)
        self.next_at[:] = self.ends_at

    # -- the control plane's side ----------------------------------------------------------------
    def last_end(self, task: Task) -> float:
        """When the last connection open on ``task`` ends by itself (-inf: none open).

        ALB completes a deregistration early only when the target has no in-flight request
        and no active connection (ALB-UG), so open connections keep a target draining.
        """
        on = self.task == task.id
        return float(self.ends_at[on].max()) if on.any() else -math.inf

    def drop(self, task: Task, now: float) -> None:
        """``task`` stopped: its connections drop together and their clients reconnect."""
        on = np.flatnonzero((self.task == task.id) & (self.ends_at > now))
        if not len(on):
            return
        start = max(now, self.world.dataplane.computed_until)
        self.task[on] = -1
        self.ends_at[on] = math.inf
        self.next_at[on] = start + self.jitter * self.drop_rng.random(len(on))
        self.drops.append(
            {
                "time_s": now,
                "task": task.name,
                "dropped": len(on),
                "window_start_s": start,
                "window_end_s": start + self.jitter,
            }
        )
        self.world.log(
            "clients",
            "connections dropped",
            f"{task.name}: {len(on)} connection(s); clients reconnect within {self.jitter:g}s",
        )

    # -- the data plane's side -------------------------------------------------------------------
    def due(self, t0: float, t1: float) -> np.ndarray:
        """Handshake times in [t0, t1), pinning each (re)connecting client to a target."""
        world = self.world
        out = []
        while True:
            idx = np.flatnonzero(self.next_at < t1)
            if not len(idx):
                break
            t = np.maximum(self.next_at[idx], t0)
            reconnect = ~np.isfinite(self.ends_at[idx]) & (self.task[idx] < 0)
            green_share = world.listener.green_weight / 100.0
            to_green = self.rng.random(len(idx)) < green_share
            pick = self.rng.random(len(idx))
            task = np.full(len(idx), -1, np.int64)
            for name, sel in (("blue", ~to_green), ("green", to_green)):
                ids, _ = world.alb.target_group(name).in_service_ids()
                if len(ids) and sel.any():
                    task[sel] = ids[
                        np.minimum((pick[sel] * len(ids)).astype(np.int64), len(ids) - 1)
                    ]
            life = np.asarray(self.lifetime.sample(self.rng, len(idx)), dtype=float)
            ok = task >= 0
            self.task[idx] = task
            self.ends_at[idx] = np.where(ok, t + life, math.inf)
            # no target (503): the client retries within the jitter window, from the next window
            retry = t1 + self.jitter * self.rng.random(len(idx))
            self.next_at[idx] = np.where(ok, t + life, retry)
            sec = np.minimum(t[reconnect].astype(np.int64), len(self.reconnects_per_s) - 1)
            np.add.at(self.reconnects_per_s, sec, 1)
            out.append(t)
        if not out:
            return np.empty(0)
        times = np.concatenate(out)
        self.handshakes += len(times)
        return times

    def summary(self) -> dict:
        """The figures the run's summary reports."""
        return {
            "connections_dropped": int(sum(d["dropped"] for d in self.drops)),
            "connection_handshakes": self.handshakes,
            "reconnect_peak_per_s": int(self.reconnects_per_s.max()),
        }


class HandshakeArrivals:
    """The load's arrivals with the pool's handshakes merged in, window by window."""

    def __init__(self, load, pool: ConnectionPool):
        self.load = load
        self.pool = pool

    def arrivals(self, t0: float, t1: float) -> np.ndarray:
        """Sorted arrival times in [t0, t1): requests and handshakes."""
        base = self.load.arrivals(t0, t1)
        extra = self.pool.due(t0, t1)
        if not len(extra):
            return base
        out = np.concatenate((base, extra))
        out.sort()
        return out

    def __getattr__(self, name: str):
        return getattr(self.load, name)


def attach(world: World) -> ConnectionPool | None:
    """Give ``world`` its pool of long-lived connections, if the load has any."""
    spec = world.scenario.load.connections
    if spec.count <= 0:
        return None
    pool = ConnectionPool(world, spec, world.rngs.connections)
    pool.open_on(world.task_sets["blue"].tasks)
    world.dataplane.load = HandshakeArrivals(world.dataplane.load, pool)
    return pool


def summary(world: World) -> dict:
    """The connection figures of the summary (None without long-lived connections)."""
    if world.connections is None:
        return {
            "connections_dropped": None,
            "connection_handshakes": None,
            "reconnect_peak_per_s": None,
        }
    return world.connections.summary()

"""Clients and target-group stickiness: which revision each production request goes to.

Without ``load.clients`` every request is split by the listener weights on its own. With it, the
load comes from a population of clients, and each request is from one of them, drawn uniformly
at random (each client is then a Poisson stream of rate ``rps / clients``). With target-group
stickiness on (``load_balancer.target_group_stickiness``, the forward action's
``TargetGroupStickinessConfig.DurationSeconds``, 1 s - 7 days) a client holds an ``AWSALBTG``
cookie naming the target group it was sent to, and while the cookie is valid its requests go to
that group whatever the weights are (ALB-UG ``load-balancer-listeners.md``):

* a client without a valid cookie is sent by the weights (the request's own routing draw) and
  gets a cookie for that group, valid for the duration;
* the cookie's expiry is reset by every request the group's targets answer (ALB-UG: the load
  balancer "resets the expiry of the cookies it generates after every request"), so a client
  that keeps coming within the duration stays in its group;
* a request for a group with no target in service ends as an ELB 503 (the data plane's rule)
  and neither sets nor renews the cookie: a sticky client keeps getting 503s until its cookie
  expires, then is sent by the weights again (an AWS expert answer on re:Post, AWS_FACTS
  correction 5).

All of it is vectorised over a batch of requests sorted by client: the cookie rules form a
recurrence per client whose every step is a running maximum of indices.
"""

from __future__ import annotations

import numpy as np


class Clients:
    """The client population, its cookies, and which clients ever reached green."""

    def __init__(self, size: int, stickiness: float, rng: np.random.Generator):
        self.size = size
        self.duration = float(stickiness)  # 0: no stickiness
        self.rng = rng
        self.group = np.full(size, -1, np.int8)  # the cookie's target group; -1: none
        self.renewed = np.full(size, -np.inf)  # when the cookie was last set or renewed
        self.reached_green = np.zeros(size, bool)

    def route(self, time: np.ndarray, drawn: np.ndarray, alive: tuple[bool, bool]) -> np.ndarray:
        """The revision of each production request (0 blue, 1 green).

        Args:
            time: arrival times, in increasing order.
            drawn: the revision the listener weights give each request (its routing draw).
            alive: whether the blue and the green group have a target in service (else 503).
        """
        n = len(time)
        client = self.rng.integers(0, self.size, n)  # drawn even when n is 0: same stream
        rev = drawn if self.duration == 0 else self._sticky(time, drawn, client, alive)
        self.reached_green[client[rev == 1]] = True
        return rev

    def _sticky(self, time, drawn, client, alive) -> np.ndarray:
        n = len(time)
        if n == 0:
            return drawn
        alive = np.array(alive, bool)
        order = np.argsort(client, kind="stable")  # by client, in time order within each
        c, t, d = client[order], time[order], drawn[order].astype(np.int64)
        idx = np.arange(n)
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(c[1:], c[:-1], out=first[1:])
        seg_start = np.maximum.accumulate(np.where(first, idx, 0))
        g = self.group[c].astype(np.int64)  # the cookie carried into this batch
        valid = (g >= 0) & (t - self.renewed[c] < self.duration)
        g_alive = alive[np.maximum(g, 0)] & (g >= 0)
        # A valid cookie for a group without targets: 503s, no renewal, until it expires (a
        # prefix of the client's requests, as the carried cookie does not change).
        stuck = valid & ~g_alive
        prev_t = np.empty(n)
        prev_t[1:] = t[:-1]
        prev_stuck = np.zeros(n, bool)
        prev_stuck[1:] = stuck[:-1]
        # A new choice by the weights is due when the client holds no valid cookie: at its first
        # request here unless the carried cookie is valid for a live group; after its stuck
        # prefix; when the gap since its last (renewing) request reaches the duration ...
        due = (
            np.where(first, ~(valid & g_alive), prev_stuck | (t - prev_t >= self.duration)) & ~stuck
        )
        # ... and after a choice that fell on a group without targets (no cookie was set): a
        # request chooses anew iff the last due point is in its segment and no choice since
        # fell on a live group.
        last_due = np.maximum.accumulate(np.where(due, idx, -1))
        lands_alive = alive[d]
        last_live = np.maximum.accumulate(np.where(lands_alive, idx, -1))
        live_before = np.empty(n, np.int64)
        live_before[0] = -1
        live_before[1:] = last_live[:-1]
        chooses = (last_due >= seg_start) & (live_before < last_due) & ~stuck
        # Otherwise the request follows the cookie: of the client's last choice here (which
        # fell on a live group), or the carried one.
        last_choice = np.maximum.accumulate(np.where(chooses, idx, -1))
        follows = np.where(last_choice >= seg_start, d[np.maximum(last_choice, 0)], g)
        rev_sorted = np.where(stuck, g, np.where(chooses, d, follows))
        # The cookie each client leaves with: its last request's group if that group answered.
        last = np.append(np.flatnonzero(first)[1:], n) - 1
        lc, lr = c[last], rev_sorted[last]
        answered = ~stuck[last] & alive[lr]
        self.group[lc[answered]] = lr[answered]
        self.renewed[lc[answered]] = t[last][answered]
        refused = ~stuck[last] & ~alive[lr]
        self.group[lc[refused]] = -1
        rev = np.empty(n, np.int8)
        rev[order] = rev_sorted
        return rev

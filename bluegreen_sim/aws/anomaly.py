"""Automatic target weights (ATW): anomaly detection and mitigation for ``weighted_random``.

What AWS documents (ALB-UG ``edit-target-group-attributes.md``, "Automatic Target Weights";
What's New 2023-11; BC ``load_balancing.algorithm.anomaly_mitigation``):

* mitigation exists only with the weighted random routing algorithm and is off by default
  (``load_balancer.anomaly_mitigation``);
* detection compares "the percent errors of one target with the percent errors of other targets
  in the target group"; errors are HTTP 5xx responses from targets and connection failures;
  "targets reporting significantly higher than their peers are then considered anomalous";
* detection "requires a minimum of three healthy targets in the target group";
* during mitigation ATW "periodically adjusts the amount of traffic routed to anomalous
  targets. Currently, the period is every five seconds", reducing it "to the minimum amount
  required"; targets no longer anomalous "gradually have more traffic routed to them until they
  reach parity".

The detection test and the size of each step are not published. The model's choices, stated
here once:

* a target's errors are its responses of the last :data:`WINDOW` seconds answered 500 by the
  target or ended as ELB 502/504 (connection closed, no response in time);
* a target becomes anomalous when it answered at least :data:`MIN_REQUESTS` requests in the
  window and its error rate is at least :data:`RATIO` times the median rate of its group's
  healthy targets and above it by :data:`MARGIN` and by :data:`Z` binomial standard deviations
  of the median rate on the target's count (the median is a peer rate that a minority of bad
  targets does not move, so at most half the targets can be anomalous; the noise guard keeps
  chance from making one "significantly higher"). A mitigated target gets
  little traffic, so it is judged on :data:`MIN_REQUESTS_MITIGATED` requests; with fewer it
  stays as it is (no evidence either way);
* every :data:`PERIOD` seconds an anomalous target's routing weight is multiplied by
  :data:`STEP_DOWN`, down to :data:`FLOOR` (it keeps a little traffic: the evidence that it
  has recovered), and a target no longer anomalous gets its weight multiplied by
  :data:`STEP_UP`, up to 1 (parity).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..engine.simulation import World
    from .fargate import Task

PERIOD = 5.0  # seconds between adjustments (documented: "every five seconds")
WINDOW = 30.0  # seconds of responses a target is judged on (model choice)
MIN_REQUESTS = 20  # responses needed in the window to judge a target (model choice)
MIN_REQUESTS_MITIGATED = 5  # ... once it is mitigated and gets little traffic (model choice)
RATIO = 2.0  # anomalous: error rate >= RATIO x the group's median ... (model choice)
MARGIN = 0.05  # ... and >= median + MARGIN (model choice)
Z = 4.0  # ... and more than Z binomial standard deviations above the median (model choice)
STEP_DOWN = 0.5  # weight factor per period while anomalous (model choice)
STEP_UP = 2.0  # weight factor per period once normal again (model choice)
FLOOR = 0.02  # lowest weight of an anomalous target (model choice)
MIN_HEALTHY = 3  # healthy targets detection needs (documented)

_SLOTS = int(WINDOW / PERIOD)
_FAILED = (500, 502, 504)


class AnomalyMitigation:
    """Per-target error counts in 5-second slots, and the weights ATW gives each target."""

    def __init__(self, world: World):
        self.world = world
        self.requests = np.zeros((_SLOTS, 64))
        self.errors = np.zeros((_SLOTS, 64))
        self.slot = 0  # the slot (index of a 5-second period) the newest column holds
        self.weight: dict[int, float] = {}  # task id -> weight; absent: 1
        self.anomalous: set[int] = set()

    def observe(self, batch: dict[str, np.ndarray]) -> None:
        """Count finalised requests by target and by the 5-second slot of their response."""
        task = batch["task"]
        has = task >= 0
        if not has.any():
            return
        task = task[has]
        slot = np.floor(batch["response"][has] / PERIOD).astype(np.int64)
        failed = np.isin(batch["status"][has], _FAILED)
        size = int(task.max()) + 1
        if size > self.requests.shape[1]:
            grow = max(size, 2 * self.requests.shape[1])
            self.requests = np.pad(self.requests, ((0, 0), (0, grow - self.requests.shape[1])))
            self.errors = np.pad(self.errors, ((0, 0), (0, grow - self.errors.shape[1])))
        self._advance(int(slot.max()))  # a new slot's row is cleared before it is filled
        keep = slot > self.slot - _SLOTS  # older responses are out of the window already
        row = slot[keep] % _SLOTS
        np.add.at(self.requests, (row, task[keep]), 1.0)
        np.add.at(self.errors, (row, task[keep]), failed[keep].astype(float))

    def _advance(self, slot: int) -> None:
        """Clear the rows of slots that leave the window as time moves to ``slot``."""
        for s in range(max(self.slot + 1, slot - _SLOTS + 1), slot + 1):
            self.requests[s % _SLOTS] = 0.0
            self.errors[s % _SLOTS] = 0.0
        self.slot = max(self.slot, slot)

    def weights(self, targets: list[Task]) -> np.ndarray | None:
        """The routing weights of ``targets`` (None: all at parity)."""
        if not self.weight:
            return None
        w = np.array([self.weight.get(t.id, 1.0) for t in targets])
        return None if (w == 1.0).all() else w

    def adjust(self) -> None:
        """One period: judge every healthy target against its group, step the weights."""
        world = self.world
        now = world.env.now
        # Responses up to now are counted; the slot that starts now is still empty.
        world.dataplane.finalize(now)
        self._advance(int(np.floor(now / PERIOD)) - 1)
        req = self.requests.sum(axis=0)
        err = self.errors.sum(axis=0)
        anomalous: set[int] = set()
        for group in world.alb.groups.values():
            healthy = [t.id for t in group.targets if t.health == "healthy"]
            if len(healthy) < MIN_HEALTHY:
                continue
            ids = np.array(healthy)
            n = req[ids] if ids.max() < len(req) else np.zeros(len(ids))
            rate = np.divide(err[ids], n, out=np.zeros(len(ids)), where=n > 0)
            judged = n >= MIN_REQUESTS
            median = float(np.median(rate[judged])) if judged.any() else 0.0
            # "Significantly higher": beyond RATIO x and MARGIN above the peers, and beyond
            # Z binomial standard deviations of the peers' rate on the target's own count.
            noise = Z * np.sqrt(median * (1 - median) / np.maximum(n, 1))
            worse = (rate >= RATIO * median) & (rate - median >= np.maximum(MARGIN, noise))
            was = np.isin(ids, list(self.anomalous))
            evidence = np.where(was, n >= MIN_REQUESTS_MITIGATED, judged)
            bad = np.where(evidence, worse, was)  # without evidence a target stays as it was
            anomalous |= set(ids[bad].tolist())
        changed = {}
        for tid in anomalous | set(self.weight):
            old = self.weight.get(tid, 1.0)
            new = max(old * STEP_DOWN, FLOOR) if tid in anomalous else min(old * STEP_UP, 1.0)
            if new != old:
                changed[tid] = new
        for tid in anomalous - self.anomalous:
            world.log("alb", "target anomalous", f"{world._tasks[tid].name}: mitigation started")
        for tid in self.anomalous - anomalous:
            world.log("alb", "target normal", f"{world._tasks[tid].name}: anomaly ended")
        self.anomalous = anomalous
        if changed:
            world.dataplane.flush()  # windows promised so far keep the weights they had
            for tid, new in changed.items():
                if new == 1.0:
                    self.weight.pop(tid, None)
                else:
                    self.weight[tid] = new
            world.version += 1  # the targets' weights changed: routing caches are stale

    def run(self):
        """The SimPy process: adjust every :data:`PERIOD` seconds."""
        env = self.world.env
        while True:
            yield env.timeout(PERIOD)
            self.adjust()

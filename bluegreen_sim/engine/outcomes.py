"""Outcomes: what became of each request, and finalising them into the recorder and CloudWatch.

A request stays pending until its response has gone, because a task may still be stopped under
it (its in-flight requests then end as ELB 502); pending requests are finalised second by second.
"""

from __future__ import annotations

import math

import numpy as np

PRODUCTION, TEST = 0, 1  # a request's kind: production or test-listener traffic
# The fields of a pending request; kind/source and start may be left out of a chunk (no test
# traffic; start only when requests are recorded): :func:`_column` fills them in.
_FIELDS = ("arrival", "start", "finish", "task", "revision", "kind", "source", "status")
_BASE_FIELDS = ("arrival", "finish", "task", "revision", "status")
_DEFAULTS = {"kind": PRODUCTION, "source": -1, "start": np.nan}


def _dtype(field: str):
    return {
        "task": np.int64,
        "revision": np.int8,
        "kind": np.int8,
        "source": np.int32,
        "status": np.int16,
    }.get(field, np.float64)


def _column(chunk: dict[str, np.ndarray], field: str) -> np.ndarray:
    """A field of a chunk of requests, with its default where the chunk leaves it out."""
    if field in chunk:
        return chunk[field]
    return np.full(len(chunk["arrival"]), _DEFAULTS[field], dtype=_dtype(field))


class Outcomes:
    """The finalising half of :class:`~.dataplane.DataPlane` (a mixin: it reads its state)."""

    def outcomes(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(response time, status) of pending requests, given the tasks stopped so far."""
        task = p["task"]
        has_task = task >= 0
        stop_at = self.table.columns["stop_at"]
        arrival, finish = p["arrival"], p["finish"]
        if not np.isfinite(stop_at[: self.table.size]).any():
            # no task stopped: nothing refused or cut, only the idle timeout applies
            limit = arrival + self.idle_timeout
            timed_out = finish > limit
            if not timed_out.any():
                return finish, p["status"]
            return (
                np.where(timed_out, limit, finish),
                np.where(timed_out, np.int16(504), p["status"]),
            )
        stop = np.where(has_task, stop_at[np.where(has_task, task, 0)], np.inf)
        refused = arrival >= stop
        if self.table.start_delays:
            ready_at = self.table.columns["ready_at"]
            refused |= has_task & (arrival < ready_at[np.where(has_task, p["task"], 0)])
        cut = ~refused & (finish > stop)
        natural = np.where(cut, stop, finish)
        limit = arrival + self.idle_timeout
        timed_out = ~refused & (natural > limit)
        resp = np.where(refused, arrival, np.where(timed_out, limit, natural))
        status = np.where(refused | (cut & ~timed_out), 502, np.where(timed_out, 504, p["status"]))
        return resp, status.astype(np.int16)

    def finalize(self, until: float) -> None:
        """Finalise every pending request whose response came before the whole second
        ``floor(until)``; everything when ``until`` is infinite."""
        boundary = math.floor(until) if math.isfinite(until) else math.inf
        self.flush()
        if self._chunks:
            chunks = [self.pending, *self._chunks]
            fields = [f for f in _FIELDS if any(f in c for c in chunks)]
            self.pending = {f: np.concatenate([_column(c, f) for c in chunks]) for f in fields}
            self._chunks = []
        if boundary <= self.finalized_until or not len(self.pending["arrival"]):
            self.finalized_until = max(self.finalized_until, boundary)
            return
        p = self.pending
        resp, status = self.outcomes(p)
        done = resp < boundary
        if done.any():
            batch = {f: v[done] for f, v in p.items()}
            batch["response"] = resp[done]
            batch["status"] = status[done]
            keep = ~done
            self.pending = {f: v[keep] for f, v in p.items()}
            self.world.recorder.record(batch)
            if self.world.anomaly is not None:  # ALB automatic target weights count errors
                self.world.anomaly.observe(batch)
            if self.testing:
                source = _column(batch, "source")
                for src in self.testing:
                    sel = source == src.id
                    if sel.any():
                        src.collect(
                            batch["status"][sel],
                            batch["response"][sel] - batch["arrival"][sel],
                            batch["revision"][sel],
                        )
                self.testing = [src for src in self.testing if not src.finished.triggered]
        self.finalized_until = max(self.finalized_until, boundary)

"""The per-task state the data plane reads, as arrays indexed by task id."""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class TaskTable:
    """The per-task state the data plane reads, as arrays indexed by task id.

    The control plane writes it through :class:`~bluegreen_sim.fargate.Task` attributes
    (faults in force, slot free times); the data plane gathers from it with one fancy index per
    window instead of a Python loop over tasks.
    """

    DEFAULTS: ClassVar[dict[str, float]] = {
        "latency_multiply": 1.0,
        "latency_add": 0.0,
        "leak_growth": 0.0,
        "leak_since": 0.0,
        "extra_error_rate": 0.0,
        "overload_error_rate": 0.0,
        "overload_utilisation": 1.0,
        "probe_failure": 0.0,
        "faulty": 0.0,
        "stop_at": np.inf,
    }

    def __init__(self, width: int, capacity: int = 64):
        self.width = width  # slots per task row: the largest concurrency
        self.size = 0
        self.columns = {name: np.full(capacity, v) for name, v in self.DEFAULTS.items()}
        self.concurrency = np.ones(capacity, np.int64)
        self.revision = np.zeros(capacity, np.int8)
        self.slots = np.full((capacity, width), np.inf)
        self.outstanding = np.zeros(capacity, np.int64)
        # Whether any task ever had a latency or error fault: until then the per-request
        # gathers of those columns are skipped.
        self.latency_faults = False
        self.error_faults = False
        self.overload_faults = False

    def add(self, task_id: int, concurrency: int, revision: int) -> None:
        if task_id >= len(self.concurrency):
            self._grow(task_id + 1)
        self.size = max(self.size, task_id + 1)
        self.concurrency[task_id] = concurrency
        self.revision[task_id] = revision
        self.slots[task_id, :concurrency] = 0.0

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * len(self.concurrency))
        old = len(self.concurrency)
        for name, default in self.DEFAULTS.items():
            col = np.full(cap, default)
            col[:old] = self.columns[name]
            self.columns[name] = col
        for name in ("concurrency", "revision", "outstanding"):
            arr = getattr(self, name)
            new = np.ones(cap, arr.dtype) if name == "concurrency" else np.zeros(cap, arr.dtype)
            new[:old] = arr
            setattr(self, name, new)
        slots = np.full((cap, self.width), np.inf)
        slots[:old] = self.slots
        self.slots = slots

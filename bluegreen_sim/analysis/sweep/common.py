"""Constants every part of a sweep shares: backends, identity columns, the code fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...scenario import (
    Scenario,
)

if TYPE_CHECKING:
    pass

BACKENDS = ("serial", "processes", "dask")

# Columns every row has besides the grid values and the run's summary.
ID_COLUMNS = ("point", "replication", "run_id", "entropy", "spawn_key", "overrides", "code")


def _code_version() -> str:
    """A fingerprint of the simulator's source: runs saved by other code are not reused."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parents[2].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


CODE_VERSION = _code_version()
# Summary fields that are text; "" is stored as missing so Parquet and CSV agree.
TEXT_FIELDS = frozenset(
    {"scenario", "controller", "outcome", "outcome_reason", "alarms_fired", "error"}
)
# Counts: integers (nullable, since an error row has none).
_COUNT_PREFIXES = ("requests_", "test_requests")
_COUNT_FIELDS = frozenset({"peak_tasks"})
# Pinned by the columns entropy/spawn_key instead (the summary's seed would be a repr).
_DROPPED_FIELDS = frozenset({"seed"})
# Thread pools of numeric libraries: one thread per worker process (the parallelism is ours).
THREAD_LIMITS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
DASK_MISSING = "the dask backend needs dask.distributed: install the dask extra: " + (
    "pip install 'bluegreen-sim[dask]'"
)
PARQUET_MISSING = "writing Parquet needs pyarrow: install the parquet extra: " + (
    "pip install 'bluegreen-sim[parquet]'"
)

Runner = Callable[[Scenario, np.random.SeedSequence], Any]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, after the sweep told on stderr what it saved (one line)."""

    already_told = True

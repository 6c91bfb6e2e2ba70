"""Sweeps: one scenario × a grid of overrides × replications, as one table with one row per run.

A sweep varies fields of a scenario (``green.error_rate``, ``deployment.config``, an alarm's
threshold ...) and runs every combination several times::

    from bluegreen_sim.sweep import sweep, summarize
    df = sweep("scenarios/canary-bad-green.yaml",
               grid={"green.error_rate": [0.01, 0.05],
                     "deployment.config": ["CodeDeployDefault.ECSCanary10Percent5Minutes",
                                           "CodeDeployDefault.ECSAllAtOnce"]},
               replications=50, entropy=2024, backend="processes")
    summarize(df)

Seeds. A sweep has one ``entropy`` (random and recorded when not given). Replication ``r`` of
*every* grid point runs with ``SeedSequence(entropy, spawn_key=(r,))``, so in replication ``r``
all grid points see the same arrivals, the same routing draws and the same start-up times
(common random numbers): differences between grid points are differences of configuration,
not of luck. Each row records ``entropy``, ``spawn_key`` and the grid point's ``overrides``, so
:func:`rerun` repeats any row alone, with its timeline and events.

Backends. ``serial`` runs in this process (the default: safe in notebooks). ``processes`` uses a
:class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method, and ``dask`` a
``dask.distributed`` cluster (an existing one at ``address``, or a local one). Runs never cross a
process boundary as objects (a SimPy environment cannot be pickled): the scenario travels as
plain data, is built in the worker, and only the summary comes back. Every backend gives the
same table, sorted by grid point and replication whatever the completion order.

Interruptions. With ``out`` (``.parquet`` or ``.csv``) rows are saved as chunks of runs
complete (Parquet: one part file per chunk in ``<out>.parts/``, merged into ``out`` at the end;
CSV: appended). Running the same sweep again with the same ``out`` reads them back and runs only
what is missing: the saved runs are identified by ``run_id`` (grid point and replication) and
must have the same entropy and overrides. Resume with the same version of the simulator, or the
old rows and the new ones come from different models.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
)
from ...scenario.files import _field_path, _friendly, _read_raw

if TYPE_CHECKING:
    from ...results.result import Result

from .backends import _run_chunk, _run_dask, _run_processes, progress_bar
from .common import BACKENDS, Runner, SweepInterrupted
from .grid import (
    _base_scenario,
    _local_cores,
    _parse_spawn_key,
    _point_scenario,
    _relative,
    _seed,
    grid_points,
)
from .store import _choose_entropy, _empty_stored, _reusable, _Store
from .table import _combine, _frame, _identity_frame

# --------------------------------------------------------------------------------------------
# The public entry points


def sweep(
    scenario: Scenario | str | Path,
    grid: dict[str, Sequence[Any]] | None = None,
    zip: dict[str, Sequence[Any]] | None = None,
    replications: int = 1,
    *,
    entropy: int | None = None,
    backend: Literal["serial", "processes", "dask"] = "serial",
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    progress: bool | None = None,
    chunksize: int | None = None,
    runner: Runner | None = None,
) -> pd.DataFrame:
    """Run a scenario over a grid of overrides, ``replications`` times each.

    Args:
        scenario: a :class:`~bluegreen_sim.scenario.Scenario` or the path of a scenario file.
        grid: ``{dotted.path: [values]}``; every combination of the values is a grid point.
        zip: ``{dotted.path: [values]}`` with lists of one length, varied together (the i-th
            values form one combination); combined with ``grid`` as a product.
        replications: runs per grid point.
        entropy: the sweep's seed; replication ``r`` uses ``SeedSequence(entropy,
            spawn_key=(r,))`` at every grid point. ``None``: random, recorded in the rows (or,
            when resuming from ``out``, the entropy stored there).
        backend: ``"serial"``, ``"processes"`` (all local cores) or ``"dask"``.
        workers: worker processes (``processes`` and a local Dask cluster); default: all cores.
        address: the scheduler of an existing Dask cluster (``tcp://host:8786``); ``bluegreen_sim``
            must be installed on its workers.
        out: a ``.parquet`` or ``.csv`` file; rows are saved as runs complete, and runs already
            saved there (same entropy) are not run again.
        progress: a progress line on stderr; default: only when stderr is a terminal.
        chunksize: runs per task sent to a worker (and per saved part); default: about ten
            tasks per worker, at most 20 runs each.
        runner: what runs one simulation, ``runner(scenario, seed) -> summary dict`` (or a
            :class:`~bluegreen_sim.results.Result`); a module-level function. Default:
            :func:`~bluegreen_sim.simulation.simulate`.

    Returns:
        One row per run, sorted by grid point and replication: the grid values (columns named by
        the dotted paths), ``point``, ``replication``, ``run_id``, ``entropy`` (a decimal
        string: it may exceed 64 bits), ``spawn_key``, ``overrides`` (JSON), every summary field
        (``alarms_fired`` joined with ``;``) and ``error`` (``None``, or the one-line message of
        the exception that run raised; the sweep goes on). ``df.attrs["sweep"]`` says how many
        runs were executed and how many were read back from ``out``.

    Raises:
        ScenarioError: the scenario, a grid value or ``out`` cannot be used (checked before
            anything runs).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1, got {replications!r}")
    if entropy is not None and (
        not isinstance(entropy, int) or isinstance(entropy, bool) or entropy < 0
    ):
        raise ValueError(f"entropy must be a non-negative integer, got {entropy!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if chunksize is not None and chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize!r}")
    base, source = _base_scenario(scenario)
    raw = base.model_dump(mode="json")
    points = grid_points(base, grid, zip, source=source)  # all checked before anything runs

    store = _Store(Path(out)) if out is not None else None
    stored = store.read() if store is not None else _empty_stored()
    entropy = _choose_entropy(entropy, stored, store)
    identity = _identity_frame(points, replications, entropy, grid or {}, zip or {})
    done = _reusable(stored, identity, store)
    todo = [i for i, run_id in enumerate(identity["run_id"]) if run_id not in done]
    if store is not None and stored.get("entropy") is not None:
        # Said on stderr even without a terminal: a log shows that earlier runs were reused.
        print(
            f"sweep: resuming {store.path} (entropy {entropy}): {len(identity) - len(todo)} "
            f"of {len(identity)} runs already saved, {len(todo)} to run",
            file=sys.stderr,
        )

    workers = workers or _local_cores()
    size = chunksize or max(1, min(20, math.ceil(len(todo) / (10 * workers))))
    point_of, rep_of = identity["point"].tolist(), identity["replication"].tolist()
    tasks = [
        {
            "raw": raw,
            "source": source,
            "base_dir": base.base_dir,
            "entropy": entropy,
            "runner": runner,
            "runs": [(i, point_of[i], rep_of[i], points[point_of[i]]) for i in todo[k : k + size]],
        }
        for k in range(0, len(todo), size)
    ]

    results: list[dict[str, Any]] = []
    bar = progress_bar(len(identity), len(identity) - len(todo), progress)
    started = time.perf_counter()

    saved = 0

    def collect(rows: list[dict[str, Any]]) -> None:
        nonlocal saved
        results.extend(rows)
        if store is not None:
            store.append(_frame(identity, rows))
            saved += len(rows)
        bar.update(len(rows))

    try:
        if backend == "serial":
            for task in tasks:
                collect(_run_chunk(task))
        elif backend == "processes":
            _run_processes(tasks, min(workers, max(1, len(tasks))), collect)
        else:
            _run_dask(tasks, workers, address, collect)
    except BaseException as exc:
        bar.close()
        told = None
        if store is not None and saved:
            where = store.parts if store.parquet else store.path
            told = (
                f"sweep: stopped; {saved} new run(s) are saved in {where}: "
                "run the same sweep again to resume"
            )
        elif isinstance(exc, KeyboardInterrupt):
            told = "sweep: stopped; no new run was saved" + ("" if store else " (no out)")
        if told is not None:
            print(told, file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            # The line above says it all: the command line adds nothing, and no traceback.
            raise SweepInterrupted(told) from None
        raise
    bar.close()

    new = _frame(identity, results)
    df = _combine(identity, [stored.get("rows"), new])
    if store is not None and (todo or store.unconsolidated()):
        store.consolidate(df, stored)
    df.attrs["sweep"] = {
        "runs": len(identity),
        "executed": len(results),
        "reused": len(identity) - len(todo),
        "entropy": str(entropy),
        "backend": backend,
        "elapsed_s": time.perf_counter() - started,
    }
    return df


class SweepFile(BaseModel):
    """A sweep file (YAML, TOML or JSON): a scenario, what to vary, how to run it.

    Paths (``scenario``, ``out``) are relative to the sweep file's folder.
    """

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    scenario: str
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    replications: int = Field(default=1, ge=1)
    entropy: int | None = Field(default=None, ge=0)
    backend: Literal["serial", "processes", "dask"] = "serial"
    workers: int | None = Field(default=None, ge=1)
    address: str | None = None
    out: str | None = None
    chunksize: int | None = Field(default=None, ge=1)


def load_sweep_file(path: str | Path) -> SweepFile:
    """Read and validate a sweep file.

    Raises:
        ScenarioError: the file cannot be read or is not a valid sweep file.
    """
    path = Path(path)
    data = _read_raw(path)
    try:
        return SweepFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        extra = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScenarioError(str(path), _field_path(err["loc"]), _friendly(err) + extra) from None


def sweep_file(
    path: str | Path,
    *,
    backend: Literal["serial", "processes", "dask"] | None = None,
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    progress: bool | None = None,
    entropy: int | None = None,
    replications: int | None = None,
    chunksize: int | None = None,
    runner: Runner | None = None,
) -> pd.DataFrame:
    """Run the sweep a sweep file describes; arguments that are not ``None`` override the file.

    ``out`` given here is relative to the current directory; ``out`` in the file is relative to
    the sweep file.

    Raises:
        ScenarioError: the sweep file, its scenario or a grid value is not valid.
    """
    path = Path(path)
    spec = load_sweep_file(path)
    here = path.parent
    scenario = load_scenario(_relative(here, spec.scenario))
    if out is None and spec.out is not None:
        out = _relative(here, spec.out)
    return sweep(
        scenario,
        grid=spec.grid,
        zip=spec.zip,
        replications=replications if replications is not None else spec.replications,
        entropy=entropy if entropy is not None else spec.entropy,
        backend=backend or spec.backend,
        workers=workers if workers is not None else spec.workers,
        address=address if address is not None else spec.address,
        out=out,
        progress=progress,
        chunksize=chunksize if chunksize is not None else spec.chunksize,
        runner=runner,
    )


def rerun(row: pd.Series | dict[str, Any], scenario: Scenario | str | Path, **kwargs) -> Result:
    """Run one row of a sweep table again, alone: the same numbers, and the whole Result.

    Args:
        row: a row of the table :func:`sweep` returned (it holds ``overrides``, ``entropy`` and
            ``spawn_key``).
        scenario: the scenario the sweep ran (object or path).
        **kwargs: passed to :func:`~bluegreen_sim.simulation.simulate` (``record_requests``).

    Returns:
        The run's :class:`~bluegreen_sim.results.Result` (timeline, events, ``plot()``).
    """
    from ...engine.simulation import simulate

    base, source = _base_scenario(scenario)
    overrides = json.loads(row["overrides"])
    run = _point_scenario(base.model_dump(mode="json"), overrides, source, base.base_dir)
    return simulate(
        run, seed=_seed(int(row["entropy"]), _parse_spawn_key(row["spawn_key"])), **kwargs
    )

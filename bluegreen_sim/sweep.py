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

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .scenario import (
    Scenario,
    ScenarioError,
    _field_path,
    _friendly,
    _read_raw,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
)
from .stats import mean_interval, t_quantile, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .results import Result

BACKENDS = ("serial", "processes", "dask")

# Columns every row has besides the grid values and the run's summary.
ID_COLUMNS = ("point", "replication", "run_id", "entropy", "spawn_key", "overrides", "code")


def _code_version() -> str:
    """A fingerprint of the simulator's source: runs saved by other code are not reused."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
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
    bar = _Progress(len(identity), len(identity) - len(todo), progress)
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
    except BaseException:
        bar.close()
        if store is not None and saved:
            where = store.parts if store.parquet else store.path
            print(
                f"sweep: stopped; {saved} new run(s) are saved in {where}: "
                "run the same sweep again to resume",
                file=sys.stderr,
            )
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
    from .simulation import simulate

    base, source = _base_scenario(scenario)
    overrides = json.loads(row["overrides"])
    run = _point_scenario(base.model_dump(mode="json"), overrides, source, base.base_dir)
    return simulate(
        run, seed=_seed(int(row["entropy"]), _parse_spawn_key(row["spawn_key"])), **kwargs
    )


# --------------------------------------------------------------------------------------------
# Grid points


def _base_scenario(scenario: Scenario | str | Path) -> tuple[Scenario, str]:
    if isinstance(scenario, Scenario):
        return scenario, f"<scenario {scenario.name}>"
    return load_scenario(scenario), str(scenario)


def grid_points(
    scenario: Scenario | str | Path,
    grid: dict[str, Sequence[Any]] | None = None,
    zip: dict[str, Sequence[Any]] | None = None,
    *,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The overrides of every grid point, each checked: a dry run of :func:`sweep`.

    Grid points are the product of the ``grid`` lists (the first key varies slowest), times the
    rows of ``zip``.

    Raises:
        ScenarioError: a grid or zip block is malformed, or a value makes the scenario invalid
            (the error names the grid key).
    """
    base, default_source = _base_scenario(scenario)
    source = source or default_source
    points = _expand(grid or {}, zip or {}, source)
    raw = base.model_dump(mode="json")
    for overrides in points:
        _point_scenario(raw, overrides, source, base.base_dir)
    return points


def _expand(
    grid: dict[str, Sequence[Any]], zipped: dict[str, Sequence[Any]], source: str
) -> list[dict[str, Any]]:
    for name, block in (("grid", grid), ("zip", zipped)):
        if not isinstance(block, dict):
            raise ScenarioError(source, name, "expected a mapping {dotted.path: [values]}")
        for key, values in block.items():
            if not isinstance(key, str) or not key:
                raise ScenarioError(source, name, f"keys must be dotted paths, got {key!r}")
            if isinstance(values, str | bytes | dict) or not isinstance(values, Sequence):
                raise ScenarioError(source, f"{name} {key}", "expected a list of values")
            if not values:
                raise ScenarioError(source, f"{name} {key}", "the list of values is empty")
    both = set(grid) & set(zipped)
    if both:
        raise ScenarioError(source, f"zip {sorted(both)[0]}", "is also a grid key")
    lengths = {len(v) for v in zipped.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{k}: {len(v)}" for k, v in zipped.items())
        raise ScenarioError(source, "zip", f"the lists must have one length ({shown})")
    zip_rows = [dict(zip(zipped, values, strict=True)) for values in _zip_rows(zipped)]
    grid_rows = [
        dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    return [{**g, **z} for g in grid_rows for z in zip_rows]


def _zip_rows(zipped: dict[str, Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows of a ``zip`` block (one empty row when there is none)."""
    if not zipped:
        return [()]
    return list(zip(*zipped.values(), strict=True))


def _point_scenario(
    raw: dict[str, Any], overrides: dict[str, Any], source: str, base_dir: str | None
) -> Scenario:
    """The scenario of one grid point; a bad value is a ScenarioError naming its grid key."""
    data = apply_overrides(raw, overrides, source=source)
    try:
        return scenario_from_dict(data, source, base_dir=base_dir)
    except ScenarioError as exc:
        key = _guilty_key(exc.field, overrides)
        if key is not None:
            where = "" if _dotted(exc.field) == key else f" ({exc.field})"
            raise ScenarioError(
                source, f"grid {key}", f"value {overrides[key]!r}: {exc.message}{where}"
            ) from None
        point = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ScenarioError(
            source, "grid point " + point, f"{exc.field or '(top level)'}: {exc.message}"
        ) from None


def _dotted(field: str | None) -> str:
    return (field or "").replace("[", ".").replace("]", "")


def _guilty_key(field: str | None, overrides: dict[str, Any]) -> str | None:
    """The override key whose value the error is about (the longest matching prefix)."""
    path = _dotted(field)
    best = None
    for key in overrides:
        if (path == key or path.startswith(key + ".") or key.startswith(path + ".")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return best


def _seed(entropy: int, spawn_key: tuple[int, ...]) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy, spawn_key=spawn_key)


def _parse_spawn_key(text: Any) -> tuple[int, ...]:
    if isinstance(text, tuple | list):
        return tuple(int(x) for x in text)
    parts = [p for p in str(text).strip("()[] ").split(",") if p.strip()]
    return tuple(int(p) for p in parts)


def _local_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _relative(here: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else here / p


# --------------------------------------------------------------------------------------------
# The table


def _cell(value: Any) -> Any:
    """A grid value as a table cell: scalars as they are, lists and mappings as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _identity_frame(
    points: list[dict[str, Any]],
    replications: int,
    entropy: int,
    grid: dict[str, Sequence[Any]],
    zipped: dict[str, Sequence[Any]],
) -> pd.DataFrame:
    """The columns that identify each run, in run order (grid point major)."""
    rows = []
    for p, overrides in enumerate(points):
        text = json.dumps(overrides, sort_keys=True)
        for r in range(replications):
            rows.append(
                {
                    **{k: _cell(v) for k, v in overrides.items()},
                    "point": p,
                    "replication": r,
                    "run_id": f"p{p}-r{r}",
                    "entropy": str(entropy),
                    "spawn_key": str((r,)),
                    "overrides": text,
                    "code": CODE_VERSION,
                }
            )
    columns = [*grid, *zipped, *ID_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    for col in frame.columns:
        if col in ("point", "replication"):
            frame[col] = frame[col].astype("int64")
        elif not (
            pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])
        ):
            # text as Python objects, on pandas 2 and 3 alike (and like the result columns)
            frame[col] = pd.Series(frame[col].tolist(), index=frame.index, dtype=object)
    return frame


def _flatten(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary as table cells: lists joined with ';', the seed left out."""
    row = {}
    for key, value in summary.items():
        if key in _DROPPED_FIELDS:
            continue
        if isinstance(value, list | tuple):
            value = ";".join(str(v) for v in value)
        elif isinstance(value, np.generic):
            value = value.item()
        row[key] = value
    return row


def _is_count(name: str) -> bool:
    return name.startswith(_COUNT_PREFIXES) or name in _COUNT_FIELDS


def _column(name: str, values: pd.Series) -> pd.Series:
    """One result column with a dtype that depends only on its values, whatever they were read
    from (Python objects, Parquet or CSV text): text, nullable boolean, Int64 counts or float."""
    cells = [None if _missing(v) else v for v in values.astype(object)]
    index = values.index
    present = [v for v in cells if v is not None]
    if name in TEXT_FIELDS:
        cells = [None if v is None or str(v) == "" else str(v) for v in cells]
        return pd.Series(cells, index=index, dtype=object, name=name)
    if not present:
        return pd.Series(np.nan, index=index, dtype="float64", name=name)
    if all(isinstance(v, bool | np.bool_) or v in ("True", "False") for v in present):
        flags = [None if v is None else v in (True, "True") for v in cells]
        return pd.Series(flags, index=index, dtype="boolean", name=name)
    try:
        numbers = [np.nan if v is None else float(v) for v in cells]
    except (TypeError, ValueError):
        return pd.Series([None if v is None else str(v) for v in cells], index=index, name=name)
    series = pd.Series(numbers, index=index, dtype="float64", name=name)
    finite = series.dropna()
    if _is_count(name) and bool((finite == np.round(finite)).all()):
        return series.astype("Int64")
    return series


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or (isinstance(value, str) and value == ""):
        return True
    return isinstance(value, float) and math.isnan(value)


def _frame(identity: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Full rows (identity columns + results) for worker results ``{"run_index": ..., ...}``."""
    if not rows:
        return identity.iloc[0:0].copy()
    results = pd.DataFrame(rows)
    index = results.pop("run_index").to_numpy()
    results.index = pd.RangeIndex(len(results))
    part = identity.iloc[index].reset_index(drop=True)
    for col in results.columns:
        part[col] = _column(col, results[col])
    return part


def _result_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != "error"] + (["error"] if "error" in frame else [])


def _combine(identity: pd.DataFrame, parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """The sweep's table: identity columns from the sweep definition, results from ``parts``
    (read back or new), one row per run, in run order."""
    parts = [p for p in parts if p is not None and len(p)]
    id_cols = set(identity.columns)
    for p in parts:  # grid keys of saved rows are not results, even if this sweep lacks them
        id_cols |= set(grid_columns(p))
    if parts:
        results = pd.concat(
            [p[["run_id", *[c for c in p.columns if c not in id_cols]]] for p in parts],
            ignore_index=True,
        )
        results = results.drop_duplicates("run_id", keep="first")
    else:
        results = pd.DataFrame(
            {"run_id": pd.Series(dtype=object), "error": pd.Series(dtype=object)}
        )
    results = results[results["run_id"].isin(set(identity["run_id"]))]
    table = identity.merge(results, on="run_id", how="inner", sort=False, validate="one_to_one")
    table = table.sort_values(["point", "replication"], kind="stable", ignore_index=True)
    out = table[[c for c in identity.columns]].copy()
    for col in _result_columns(table[[c for c in table.columns if c not in id_cols]]):
        out[col] = _column(col, table[col])
    if "error" not in out:
        out["error"] = pd.Series([None] * len(out), dtype=object)
    return out


# --------------------------------------------------------------------------------------------
# Running chunks of runs (module level: workers import it by name)


def _simulate_summary(scenario: Scenario, seed: np.random.SeedSequence) -> dict[str, Any]:
    from .simulation import simulate

    return simulate(scenario, seed=seed).summary


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _run_chunk(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a chunk of runs; returns ``{"run_index", summary fields..., "error"}`` per run.

    A run that raises becomes a row whose ``error`` is the exception's one-line message.
    """
    for name, value in THREAD_LIMITS.items():
        os.environ[name] = value
    runner = task["runner"] or _simulate_summary
    built: dict[int, Scenario] = {}
    rows = []
    for run_index, point, replication, overrides in task["runs"]:
        row: dict[str, Any] = {"run_index": run_index}
        try:
            if point not in built:
                data = apply_overrides(task["raw"], overrides, source=task["source"])
                built[point] = scenario_from_dict(data, task["source"], base_dir=task["base_dir"])
            summary = runner(built[point], _seed(task["entropy"], (replication,)))
            summary = getattr(summary, "summary", summary)
            row.update(_flatten(summary))
            row["error"] = None
        except Exception as exc:  # the sweep goes on; the row says what happened
            row["error"] = _one_line(exc)
        rows.append(row)
    return rows


@contextlib.contextmanager
def _thread_limits() -> Iterator[None]:
    """Environment for worker processes started meanwhile (they inherit it at start-up)."""
    saved = {name: os.environ.get(name) for name in THREAD_LIMITS}
    os.environ.update(THREAD_LIMITS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_processes(tasks: list[dict], workers: int, collect: Callable[[list], None]) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    if not tasks:
        return
    # spawn: fresh interpreters (no inherited threads or locks); never set globally. Spawned
    # workers re-import the main script, which fails for a script read from stdin (`python -`):
    # there, fork (where the platform has it) is the only start method that works.
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    method = "spawn"
    if main_file and not os.path.exists(main_file) and hasattr(os, "fork"):
        method = "fork"
    context = multiprocessing.get_context(method)
    with _thread_limits():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            futures = [pool.submit(_run_chunk, task) for task in tasks]
            for future in as_completed(futures):
                collect(future.result())
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "a sweep worker process died (out of memory, killed, or a script that starts "
                "a sweep without `if __name__ == '__main__':`)"
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    tasks: list[dict], workers: int, address: str | None, collect: Callable[[list], None]
) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError(DASK_MISSING) from exc
    if not tasks:
        return
    cluster = None
    if address:
        client = Client(address)
    else:
        # Closing a local cluster makes its workers log heartbeat CommClosedError tracebacks
        # (harmless noise); failures of our tasks still arrive through future.result().
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
            env=dict(THREAD_LIMITS),
        )
        client = Client(cluster)
    try:
        # pure=False: Dask would otherwise run identical arguments once (dask/distributed#2558).
        futures = client.map(_run_chunk, tasks, pure=False)
        for future in as_completed(futures):
            collect(future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------
# Saving and resuming


def _empty_stored() -> dict[str, Any]:
    return {"rows": None, "entropy": None}


class _Store:
    """Where a sweep's rows are saved as they arrive: Parquet parts, or an appended CSV."""

    def __init__(self, path: Path):
        self.path = path
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise ScenarioError(str(path), "out", "expected a .parquet or .csv file name")
        self.parquet = suffix == ".parquet"
        self.parts = path.with_name(path.name + ".parts")
        if self.parquet:
            try:
                import pyarrow  # noqa: F401
            except ImportError as exc:
                raise ImportError(PARQUET_MISSING) from exc

    # -- reading ---------------------------------------------------------------------------
    def read(self) -> dict[str, Any]:
        """What earlier runs of this sweep saved: rows (results by run_id) and their entropy."""
        frames = []
        if self.parquet:
            if self.path.exists():
                frames.append(pd.read_parquet(self.path))
            if self.parts.is_dir():
                frames += [pd.read_parquet(p) for p in sorted(self.parts.glob("part-*.parquet"))]
        elif self.path.exists():
            self._drop_torn_line()
            if self.path.stat().st_size:
                frames.append(pd.read_csv(self.path, dtype=str, keep_default_na=False))
        frames = [f for f in frames if len(f)]
        if not frames:
            return _empty_stored()
        rows = pd.concat(frames, ignore_index=True)
        for needed in ("run_id", "entropy", "overrides"):
            if needed not in rows:
                raise ScenarioError(
                    str(self.path), "out", f"not a sweep table (no '{needed}' column)"
                )
        entropies = set(rows["entropy"].astype(str))
        if len(entropies) > 1:
            raise ScenarioError(
                str(self.path), "out", "holds rows of several sweeps (several entropies)"
            )
        return {"rows": rows, "entropy": int(entropies.pop())}

    def _drop_torn_line(self) -> None:
        """A run killed while appending leaves a partial last line: cut it (it runs again)."""
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    # -- writing ---------------------------------------------------------------------------
    def append(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        if self.parquet:
            self.parts.mkdir(parents=True, exist_ok=True)
            name = f"part-{int(frame['point'].iloc[0]):06d}-{uuid.uuid4().hex[:12]}.parquet"
            _write_atomic(self.parts / name, frame)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = None
        if self.path.exists() and self.path.stat().st_size:
            header = list(pd.read_csv(self.path, nrows=0).columns)
        if header is not None and header != list(frame.columns):
            if set(frame.columns) - set(header):  # new columns: rewrite with the union
                old = pd.read_csv(self.path, dtype=str, keep_default_na=False)
                _write_atomic(self.path, pd.concat([old, frame.astype(object)], ignore_index=True))
                return
            frame = frame.reindex(columns=header)
        text = frame.to_csv(index=False, header=header is None)
        with open(self.path, "a", encoding="utf-8", newline="") as fh:
            fh.write(text)  # one write per chunk: a kill tears at most the last line
            fh.flush()
            os.fsync(fh.fileno())

    def unconsolidated(self) -> bool:
        """Parts not yet merged into ``out``, or no ``out`` yet."""
        return not self.path.exists() or (self.parquet and self.parts.is_dir())

    def consolidate(self, table: pd.DataFrame, stored: dict[str, Any]) -> None:
        """Write the whole table to ``out``, keeping saved rows of runs outside this sweep
        (e.g. replications beyond the current count)."""
        earlier = stored.get("rows")
        if earlier is not None and len(earlier):
            extra = earlier[~earlier["run_id"].isin(set(table["run_id"]))]
            if len(extra):
                union = pd.concat([table, extra.reindex(columns=table.columns)], ignore_index=True)
                ids = set(ID_COLUMNS) | set(grid_columns(table))
                for col in union.columns:
                    if col not in ids:
                        union[col] = _column(col, union[col])
                table = union
        _write_atomic(self.path, table)
        if self.parquet and self.parts.is_dir():
            shutil.rmtree(self.parts)


def _write_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write a whole file under a temporary name, then rename it: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _choose_entropy(given: int | None, stored: dict[str, Any], store: _Store | None) -> int:
    saved = stored.get("entropy")
    if saved is None:
        return given if given is not None else int(np.random.SeedSequence().entropy)
    if given is None:
        print(
            f"sweep: resuming the sweep saved in {store.path} with its entropy {saved}",
            file=sys.stderr,
        )
        return saved
    if given != saved:
        raise ScenarioError(
            str(store.path),
            "entropy",
            f"holds runs with entropy {saved}, not {given}: pass entropy={saved} to resume "
            "them, or choose another out",
        )
    return given


def _reusable(stored: dict[str, Any], identity: pd.DataFrame, store: _Store | None) -> set[str]:
    """run_ids already saved; refuses a file whose run_ids meant other grid points."""
    rows = stored.get("rows")
    if rows is None:
        return set()
    mine = dict(zip(identity["run_id"], identity["overrides"], strict=True))
    if "code" in rows and len(rows) and (rows["code"] != CODE_VERSION).any():
        other = rows.loc[rows["code"] != CODE_VERSION, "code"].iloc[0]
        raise ScenarioError(
            str(store.path),
            "out",
            f"holds runs made by another version of the simulator (code {other}, this is "
            f"{CODE_VERSION}): their numbers would not match new runs; choose another out",
        )
    done = set()
    for run_id, overrides in zip(rows["run_id"], rows["overrides"], strict=True):
        if run_id not in mine:
            continue
        if json.loads(overrides) != json.loads(mine[run_id]):
            raise ScenarioError(
                str(store.path),
                "out",
                f"run {run_id} there has overrides {overrides}, this sweep {mine[run_id]}: "
                "it holds a different sweep; choose another out",
            )
        done.add(run_id)
    return done


# --------------------------------------------------------------------------------------------
# Progress


class _Progress:
    """``runs done/total, elapsed, time left`` on one stderr line, rewritten with ``\\r``."""

    def __init__(self, total: int, done: int, enabled: bool | None):
        self.total, self.done, self.start_done = total, done, done
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.started = time.perf_counter()
        self.last = 0.0
        self.shown = False
        if self.enabled and done < total:
            self._show()

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= 0.2 or self.done >= self.total):
            self._show()

    def _show(self) -> None:
        self.last = time.perf_counter()
        elapsed = self.last - self.started
        new = self.done - self.start_done
        left = "?" if new == 0 else _clock(elapsed / new * (self.total - self.done))
        pct = 100.0 * self.done / self.total if self.total else 100.0
        sys.stderr.write(
            f"\rsweep: {self.done}/{self.total} runs ({pct:3.0f}%)  "
            f"elapsed {_clock(elapsed)}  left ~{left}   "
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --------------------------------------------------------------------------------------------
# Analysis

SUMMARY_METRICS = (
    "requests_failed",
    "excess_failed",
    "time_to_detect_s",
    "deployment_duration_s",
    "peak_tasks",
    "cost_usd",
)


def grid_columns(df: pd.DataFrame) -> list[str]:
    """The columns of a sweep table that hold grid values (the keys of ``overrides``)."""
    keys: set[str] = set()
    if "overrides" in df and len(df):
        for text in df["overrides"].dropna().drop_duplicates():
            keys.update(json.loads(text))
    return [c for c in df.columns if c in keys]


def _rolled_back(df: pd.DataFrame) -> pd.Series:
    return (df["outcome"] == "ROLLED_BACK").where(df["outcome"].notna())


def _detected_early(df: pd.DataFrame) -> pd.Series:
    """Stopped before full traffic (the summary's flag; else rollback before full traffic)."""
    ok = df["error"].isna() if "error" in df else pd.Series(True, index=df.index)
    if "detected_before_full_traffic" in df:
        flag = df["detected_before_full_traffic"].astype("boolean")
    else:
        rb = pd.to_numeric(df["rollback_start_s"], errors="coerce")
        full = pd.to_numeric(df.get("full_traffic_s", pd.Series(np.nan, index=df.index)))
        flag = (rb.notna() & (full.isna() | (rb < full))).astype("boolean")
    return flag.where(ok)


def summarize(df: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Per grid point (or per ``by``): means with 95 % t-intervals, proportions with Wilson's.

    Rows with an ``error`` are left out. Measures: ``requests_failed``, ``excess_failed``,
    ``time_to_detect_s`` (over the runs that detected something), ``deployment_duration_s``,
    ``peak_tasks``, ``cost_usd``; proportions ``rolled_back`` (outcome ROLLED_BACK) and
    ``detected_before_full_traffic``.

    Returns:
        A tidy table indexed by the group columns and ``measure``, with columns ``n``, ``mean``
        (the proportion, for proportions), ``ci_low`` and ``ci_high``.
    """
    keys = grid_columns(df) if by is None else [by] if isinstance(by, str) else list(by)
    rows = []
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    for key, everything in groups:
        key = key if isinstance(key, tuple) else (key,)
        ident = dict(zip(keys, key, strict=True))
        # a grid point whose runs all failed still gets its rows (with n = 0)
        group = everything[everything["error"].isna()] if "error" in df else everything
        for measure in SUMMARY_METRICS:
            if measure not in group:
                continue
            n, mean, lo, hi = mean_interval(group[measure])
            rows.append(
                {**ident, "measure": measure, "n": n, "mean": mean, "ci_low": lo, "ci_high": hi}
            )
        for measure, flags in (
            ("rolled_back", _rolled_back(group)),
            ("detected_before_full_traffic", _detected_early(group)),
        ):
            flags = flags.dropna().astype(bool)
            k, n = int(flags.sum()), len(flags)
            lo, hi = wilson_interval(k, n)
            rows.append(
                {
                    **ident,
                    "measure": measure,
                    "n": n,
                    "mean": k / n if n else math.nan,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    table = pd.DataFrame(rows, columns=[*keys, "measure", "n", "mean", "ci_low", "ci_high"])
    return table.set_index([*keys, "measure"])


def _proportions(df: pd.DataFrame, x: str, by: str | None, flag: pd.Series) -> pd.DataFrame:
    ok = flag.notna()
    data = df.loc[ok, [c for c in (x, by) if c]].copy()
    data["_flag"] = flag[ok].astype(bool).to_numpy()
    keys = [c for c in (by, x) if c]
    rows = []
    for key, g in data.groupby(keys, sort=False, dropna=False):  # grid order
        key = key if isinstance(key, tuple) else (key,)
        k, n = int(g["_flag"].sum()), len(g)
        lo, hi = wilson_interval(k, n)
        rows.append({**dict(zip(keys, key, strict=True)), "p": k / n, "low": lo, "high": hi})
    return pd.DataFrame(rows)


def plot_detection(
    df: pd.DataFrame,
    x: str,
    by: str | None = None,
    *,
    detected: Literal["rolled_back", "detected_before_full_traffic"] = "rolled_back",
    ax=None,
) -> Figure:
    """Detection probability against ``x`` (e.g. ``green.error_rate``), one line per ``by``
    (e.g. ``deployment.config``), with 95 % Wilson intervals as error bars."""
    import matplotlib.pyplot as plt

    ok = df[df["error"].isna()] if "error" in df else df
    flag = _rolled_back(ok) if detected == "rolled_back" else _detected_early(ok)
    table = _proportions(ok, x, by, flag)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    groups = table.groupby(by, sort=False, dropna=False) if by else [(None, table)]
    for name, g in groups:
        g = g.sort_values(x)
        ax.errorbar(
            g[x],
            g["p"],
            yerr=[g["p"] - g["low"], g["high"] - g["p"]],
            marker="o",
            capsize=3,
            label=None if by is None else _label(name),
        )
    ax.set_xlabel(x)
    ax.set_ylabel("rolled back" if detected == "rolled_back" else "detected before full traffic")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    if by is not None:
        ax.legend(title=by, fontsize="small")
    ax.set_title("Detection probability (95 % Wilson intervals)")
    fig.tight_layout()
    return fig


def plot_risk_speed(df: pd.DataFrame, by: str | Sequence[str] | None = None, *, ax=None) -> Figure:
    """Failed requests against deployment duration: one point per grid point (means with 95 %
    t-intervals both ways), coloured by the ``by`` column(s) (e.g. ``deployment.config``)."""
    import matplotlib.pyplot as plt

    by_cols = [by] if isinstance(by, str) else list(by or [])
    table = summarize(df, by=["point", *by_cols])
    wide = table.unstack("measure").reset_index()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    colours: dict[tuple, str] = {}
    for _, row in wide.iterrows():
        x, y = row[("mean", "deployment_duration_s")], row[("mean", "requests_failed")]
        xerr = [
            [x - row[("ci_low", "deployment_duration_s")]],
            [row[("ci_high", "deployment_duration_s")] - x],
        ]
        yerr = [[y - row[("ci_low", "requests_failed")]], [row[("ci_high", "requests_failed")] - y]]
        group = tuple(row[(c, "")] for c in by_cols)
        first = group not in colours
        colours.setdefault(group, f"C{len(colours) % 10}")
        label = ", ".join(_label(g) for g in group) if by_cols and first else None
        ax.errorbar(
            x,
            y,
            xerr=np.nan_to_num(np.asarray(xerr, float)),
            yerr=np.nan_to_num(np.asarray(yerr, float)),
            fmt="o",
            capsize=3,
            color=colours[group],
            label=label,
        )
    ax.set_xlabel("deployment duration (s)")
    ax.set_ylabel("failed requests per run")
    ax.grid(alpha=0.3)
    if by_cols:
        ax.legend(title=", ".join(by_cols), fontsize="small")
    ax.set_title("Risk against speed (means, 95 % intervals)")
    fig.tight_layout()
    return fig


def _label(value: Any) -> str:
    text = str(value)
    return text.removeprefix("CodeDeployDefault.")


__all__ = [
    "SweepFile",
    "grid_columns",
    "grid_points",
    "load_sweep_file",
    "mean_interval",
    "plot_detection",
    "plot_risk_speed",
    "rerun",
    "summarize",
    "sweep",
    "sweep_file",
    "t_quantile",
    "wilson_interval",
]

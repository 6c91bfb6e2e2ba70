"""Running chunks of runs on the serial, process and Dask backends (module level: workers import
it by name), and the progress bar (tqdm, on a terminal only).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from ...scenario import (
    Scenario,
    apply_overrides,
    scenario_from_dict,
)

if TYPE_CHECKING:
    pass

from ...engine.dataplane import warm_up_for
from .common import DASK_MISSING, THREAD_LIMITS
from .grid import _seed
from .table import _flatten


def _simulate_summary(scenario: Scenario, seed: np.random.SeedSequence) -> dict[str, Any]:
    from ...engine.simulation import simulate

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
    for i, (run_index, point, replication, overrides) in enumerate(task["runs"]):
        row: dict[str, Any] = {"run_index": run_index}
        try:
            if point not in built:
                data = apply_overrides(task["raw"], overrides, source=task["source"])
                built[point] = scenario_from_dict(data, task["source"], base_dir=task["base_dir"])
                warm_up_for(built[point], len(task["runs"]) - i)
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
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_ignore_interrupts
        )
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
        with _interrupts_ignored():  # the worker processes inherit it: no tracebacks on Ctrl-C
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
    except KeyboardInterrupt:
        # Closing mid-run makes the scheduler and nannies log lost connections: not news.
        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ignore_interrupts() -> None:
    """In a worker process: Ctrl-C is the parent's to handle (it saves what finished)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Processes started meanwhile ignore Ctrl-C (an ignored signal stays ignored in a child,
    and Python then installs no KeyboardInterrupt handler); the parent's handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def progress_bar(total: int, done: int, enabled: bool | None) -> tqdm:
    """``runs done/total, elapsed, time left`` on one stderr line (tqdm); by default only on a
    terminal, so logs and notebooks' captured output stay clean."""
    enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
    return tqdm(
        total=total,
        initial=done,
        disable=not enabled or done >= total,
        desc="sweep",
        unit="run",
        file=sys.stderr,
        leave=False,
        mininterval=0.2,
    )

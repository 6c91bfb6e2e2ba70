"""Saving and resuming: Parquet part files or CSV appends, and which saved runs can be reused."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...scenario import (
    ScenarioError,
)

if TYPE_CHECKING:
    pass

from .common import CODE_VERSION, ID_COLUMNS, PARQUET_MISSING
from .summary import grid_columns
from .table import _column


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
        return saved  # resuming: the sweep says so once it knows how many runs are saved
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

"""The sweep table: one row per run, with identity columns, flattened summaries and types that
Parquet and CSV both keep.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass

from .common import (
    _COUNT_FIELDS,
    _COUNT_PREFIXES,
    _DROPPED_FIELDS,
    CODE_VERSION,
    ID_COLUMNS,
    TEXT_FIELDS,
)
from .summary import grid_columns


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

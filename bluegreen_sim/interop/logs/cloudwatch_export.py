"""CloudWatch metric exports: the JSON that the AWS CLI prints for ALB metrics.

Two shapes are read, as ``aws cloudwatch`` writes them:

* ``get-metric-data``: ``{"MetricDataResults": [{"Id", "Label", "Timestamps", "Values",
  "StatusCode"}], "Messages": []}``. The output does not say which metric or statistic a result
  is; both are read from its ``Label`` or ``Id`` (the metric name, e.g. ``RequestCount``, and a
  statistic word: ``Sum``, ``Average``, ``p99``...). Counts default to ``Sum`` and
  ``TargetResponseTime`` to ``Average``, the statistics AWS recommends for them.
* ``get-metric-statistics``: ``{"Label": "RequestCount", "Datapoints": [{"Timestamp", "Sum",
  "Average", ..., "ExtendedStatistics": {"p99": ...}, "Unit"}]}``.

A file may also hold a list of such outputs. The period of a series is the greatest common
divisor of the spacings of its timestamps.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CalibrationError

ALB_METRICS = (
    "RequestCount",
    "TargetResponseTime",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HealthyHostCount",
    "UnHealthyHostCount",
)
_STATS = {
    "sum": "Sum",
    "average": "Average",
    "avg": "Average",
    "mean": "Average",
    "maximum": "Maximum",
    "max": "Maximum",
    "minimum": "Minimum",
    "min": "Minimum",
    "samplecount": "SampleCount",
}
_PCT = re.compile(r"(?<![a-z0-9])p(\d{1,2}(?:\.\d+)?)(?![a-z0-9])")


@dataclass
class CloudWatchData:
    """Series read from exports, keyed by (metric, statistic); values indexed by UTC time."""

    files: list[str] = field(default_factory=list)
    series: dict[tuple[str, str], pd.Series] = field(default_factory=dict)

    def get(self, metric: str, stat: str) -> pd.Series | None:
        """The series of (metric, statistic), or None when the exports have no datapoint."""
        s = self.series.get((metric, stat))
        s = s.dropna() if s is not None else None
        return s if s is not None and len(s) else None

    def period(self, metric: str, stat: str) -> float:
        """The period of a series in seconds: the greatest common divisor of the spacings of
        its timestamps (a missing datapoint does not double it)."""
        s = self.series[(metric, stat)]  # null datapoints kept: they still mark a period
        if len(s) < 2:
            return 60.0
        gaps = np.round(np.diff(epoch_seconds(s.index))).astype(np.int64)
        gaps = gaps[gaps > 0]
        return float(np.gcd.reduce(gaps)) if len(gaps) else 60.0


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since 1970 of UTC timestamps (whatever the unit pandas stores them in)."""
    return (index - pd.Timestamp("1970-01-01", tz="UTC")).total_seconds().to_numpy()


def _metric_of(text: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    # the longest name first: HTTPCode_ELB_5XX_Count must not match inside another
    for name in sorted(ALB_METRICS, key=len, reverse=True):
        if re.sub(r"[^a-z0-9]", "", name.lower()) in key:
            return name
    aliases = {"requests": "RequestCount", "latency": "TargetResponseTime"}
    return next((m for a, m in aliases.items() if a in key), None)


def _stat_of(text: str, metric: str) -> str:
    low = text.lower()
    pct = _PCT.search(low)
    if pct:
        return f"p{pct.group(1)}"
    for word in re.split(r"[^a-z]+", low):
        if word in _STATS:
            return _STATS[word]
    return "Average" if metric in ("TargetResponseTime", "HealthyHostCount") else "Sum"


def read_cloudwatch_exports(paths: list[Path]) -> CloudWatchData:
    """Read CloudWatch JSON exports; refuses in one line what is neither shape."""
    out = CloudWatchData()
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CalibrationError(f"{path}: cannot read the file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
        docs = doc if isinstance(doc, list) else [doc]
        for d in docs:
            if isinstance(d, dict) and "MetricDataResults" in d:
                _read_metric_data(path, d, out)
            elif isinstance(d, dict) and "Datapoints" in d:
                _read_statistics(path, d, out)
            else:
                raise CalibrationError(
                    f"{path}: expected the JSON of 'aws cloudwatch get-metric-data' "
                    "(MetricDataResults) or 'get-metric-statistics' (Label, Datapoints)"
                )
        out.files.append(str(path))
    return out


def _series(path: Path, where: str, times: list, values: list) -> pd.Series:
    if not isinstance(times, list) or not isinstance(values, list) or len(times) != len(values):
        raise CalibrationError(f"{path}: {where}: expected lists of timestamps and values")
    try:
        index = pd.to_datetime(pd.Series(times, dtype=object), utc=True, format="ISO8601")
        vals = pd.to_numeric(pd.Series(values, dtype=object), errors="raise").astype(float)
    except (ValueError, TypeError) as exc:
        raise CalibrationError(f"{path}: {where}: {exc}") from None
    s = pd.Series(vals.to_numpy(), index=pd.DatetimeIndex(index)).sort_index()
    return s[~s.index.duplicated(keep="last")]  # null values stay NaN: see get()


def _add(out: CloudWatchData, key: tuple[str, str], s: pd.Series) -> None:
    old = out.series.get(key)
    out.series[key] = s if old is None else pd.concat([old, s]).groupby(level=0).last()


def _read_metric_data(path: Path, doc: dict, out: CloudWatchData) -> None:
    results = doc["MetricDataResults"]
    if not isinstance(results, list):
        raise CalibrationError(f"{path}: MetricDataResults: expected a list")
    for i, r in enumerate(results):
        where = f"MetricDataResults[{i}]"
        if not isinstance(r, dict):
            raise CalibrationError(f"{path}: {where}: expected an object")
        text = f"{r.get('Label', '')} {r.get('Id', '')}"
        metric = _metric_of(text)
        if metric is None:
            continue  # not an ALB metric this calibration uses
        s = _series(path, where, r.get("Timestamps", []), r.get("Values", []))
        _add(out, (metric, _stat_of(text, metric)), s)


def _read_statistics(path: Path, doc: dict, out: CloudWatchData) -> None:
    label = str(doc.get("Label", ""))
    metric = _metric_of(label)
    points = doc["Datapoints"]
    if metric is None or not isinstance(points, list):
        raise CalibrationError(
            f"{path}: Label: expected an ALB metric name such as RequestCount (got {label!r})"
        )
    if not points:
        return
    stats: dict[str, tuple[list, list]] = {}
    for i, p in enumerate(points):
        if not isinstance(p, dict) or "Timestamp" not in p:
            raise CalibrationError(f"{path}: Datapoints[{i}]: expected an object with Timestamp")
        for name, value in p.items():
            if name in ("Sum", "Average", "Maximum", "Minimum", "SampleCount"):
                stats.setdefault(name, ([], []))
                stats[name][0].append(p["Timestamp"])
                stats[name][1].append(value)
        for name, value in (p.get("ExtendedStatistics") or {}).items():
            stats.setdefault(name, ([], []))
            stats[name][0].append(p["Timestamp"])
            stats[name][1].append(value)
    for name, (times, values) in stats.items():
        _add(out, (metric, name), _series(path, "Datapoints", times, values))

"""CloudWatch's datapoint statistics and the latency histograms they are read from.

* Statistics: :func:`statistic_value` turns the aggregates of one period (count, sum, minimum,
  maximum, latency histogram) into the value of a ``Statistic`` or ``ExtendedStatistic`` such as
  ``p99.9``; :func:`parse_extended_statistic` reads the percentile name.
* Latency histograms: log-spaced buckets 1 % wide (:data:`HIST_EDGES`, :func:`hist_bucket`,
  :func:`hist_counts`, :func:`hist_percentile`). Percentiles do not aggregate, but bucket counts
  do: summing the counts of two windows gives the histogram of their union, so any phase's
  percentile can be read from summed per-window counts.

Pure functions of plain values, like :mod:`.cloudwatch`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np

from .cloudwatch import STATISTICS

# --------------------------------------------------------------------------
# Latency histograms
# --------------------------------------------------------------------------

_HIST_LOW_MS = 0.01  # 10 microseconds: below any simulated service time
_HIST_HIGH_MS = 10 * 3600 * 1000.0  # 10 hours: above any request timeout
_HIST_RATIO = 1.01  # 1 % wide buckets

#: Bucket edges in milliseconds: 0.01 ms x 1.01**i, up to the first edge at or
#: above 10 hours. Bucket 0 holds exact zeros; bucket i >= 1 holds latencies in
#: ``[HIST_EDGES[i - 1], HIST_EDGES[i])``. Latencies below 0.01 ms are counted
#: in bucket 1 and latencies of 10 hours or more in the last bucket, so the
#: 1 % accuracy holds inside [0.01 ms, 10 h] only.
HIST_EDGES: np.ndarray = _HIST_LOW_MS * _HIST_RATIO ** np.arange(
    math.ceil(math.log(_HIST_HIGH_MS / _HIST_LOW_MS) / math.log(_HIST_RATIO)) + 1
)
HIST_EDGES.setflags(write=False)
_INV_LOG_RATIO = 1.0 / math.log(_HIST_RATIO)

#: Number of buckets, the length of a counts array: the zero bucket plus one
#: bucket between each pair of neighbouring edges.
HIST_BUCKETS: int = HIST_EDGES.size

#: The value reported for each bucket: 0 for bucket 0, else the geometric
#: midpoint of its edges. The geometric midpoint is within sqrt(1.01) - 1,
#: about 0.5 %, of every value in the bucket, relative to that value.
HIST_MIDPOINTS: np.ndarray = np.concatenate(([0.0], np.sqrt(HIST_EDGES[:-1] * HIST_EDGES[1:])))
HIST_MIDPOINTS.setflags(write=False)


def hist_bucket(latency_ms: np.ndarray) -> np.ndarray:
    """Map latencies to histogram bucket indices (vectorised).

    Args:
        latency_ms: Latencies in milliseconds, any shape, all >= 0.

    Returns:
        An integer array of the same shape with values in
        ``range(HIST_BUCKETS)``.

    Raises:
        ValueError: If a latency is negative or NaN.
    """
    latency = np.asarray(latency_ms, dtype=float)
    # One vectorised check: NaN fails ">= 0" too.
    if not np.all(latency >= 0):
        raise ValueError("latency_ms must be >= 0 and not NaN")
    # The logarithm finds the bucket in O(1); a one-step correction against the edges makes
    # it agree exactly with a binary search (side="right": a latency equal to an edge goes
    # into the bucket that the edge opens, so every bucket is closed below, open above).
    with np.errstate(divide="ignore"):
        guess = np.floor(np.log(latency * (1.0 / _HIST_LOW_MS)) * _INV_LOG_RATIO)
    n = HIST_BUCKETS
    index = np.clip(np.nan_to_num(guess, neginf=-1.0), -1, n - 1).astype(np.intp) + 1
    index += (index < n) & (latency >= HIST_EDGES[np.minimum(index, n - 1)])
    index -= (index > 0) & (latency < HIST_EDGES[np.clip(index - 1, 0, n - 1)])
    index = np.clip(index, 1, n - 1)
    return np.where(latency == 0, 0, index).astype(np.intp)


def hist_counts(latency_ms: np.ndarray) -> np.ndarray:
    """Build the bucket counts of a batch of latencies.

    Counts of separate batches add up to the counts of the combined batch,
    which is how per-window histograms are merged into per-phase ones.

    Args:
        latency_ms: Latencies in milliseconds, all >= 0.

    Returns:
        An int64 array of length :data:`HIST_BUCKETS`.

    Raises:
        ValueError: If a latency is negative or NaN.
    """
    buckets = hist_bucket(np.ravel(latency_ms))
    return np.bincount(buckets, minlength=HIST_BUCKETS).astype(np.int64)


def hist_percentile(counts: np.ndarray, q: float) -> float:
    """Read the q-quantile from histogram bucket counts.

    The nearest-rank definition is used: the ``ceil(q * n)``-th smallest of the
    n latencies (the smallest for q = 0). The result is the geometric midpoint
    of the bucket holding it, so it is within about 0.5 % of the exact
    nearest-rank percentile for latencies inside [0.01 ms, 10 h].

    Args:
        counts: Bucket counts of length :data:`HIST_BUCKETS`, for example a sum
            of :func:`hist_counts` results.
        q: The quantile, 0 <= q <= 1 (0.99 for p99).

    Returns:
        The latency in milliseconds.

    Raises:
        ValueError: If ``q`` is outside [0, 1], ``counts`` has the wrong
            length or a negative entry, or holds no samples.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be between 0 and 1; got {q!r}")
    counts = np.asarray(counts)
    if counts.shape != (HIST_BUCKETS,):
        raise ValueError(f"counts must have shape ({HIST_BUCKETS},); got {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("counts must not be negative")
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    if total == 0:
        raise ValueError("counts holds no samples; a percentile is undefined")
    exact_rank = q * total
    # q * n is computed in floating point: 0.999 * 1000 may land a hair above
    # 999 and must still mean rank 999, not 1000. A relative nudge of 1e-9
    # removes that rounding without moving any genuinely fractional rank.
    rank = max(1, math.ceil(exact_rank - 1e-9 * exact_rank))
    bucket = int(np.searchsorted(cumulative, rank, side="left"))
    return float(HIST_MIDPOINTS[bucket])


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

# Up to two decimals, as in AWS's own examples ("p99.9", ALB's "pNN.NN").
_EXTENDED_STATISTIC = re.compile(r"p(\d{1,3})(?:\.(\d{1,2}))?")


def parse_extended_statistic(name: str) -> float:
    """Turn a percentile ``ExtendedStatistic`` name into a quantile.

    Only the ``pNN`` form (``p0`` to ``p100``, with up to two decimals) is
    supported; trimmed means and the other extended statistics are not.

    Args:
        name: For example ``"p99"`` or ``"p99.9"``.

    Returns:
        The quantile in [0, 1], for example 0.999 for ``"p99.9"``.

    Raises:
        ValueError: If ``name`` is not a percentile between p0 and p100.
    """
    match = _EXTENDED_STATISTIC.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"extended statistic must look like 'p99' or 'p99.9'; got {name!r}")
    # Decimal keeps "p99.9" at exactly 0.999 instead of 0.9990000000000001.
    percent = Decimal(name[1:])
    if percent > 100:
        raise ValueError(f"extended statistic must be between p0 and p100; got {name!r}")
    return float(percent / 100)


def statistic_value(
    stat: str,
    *,
    count: int,
    total: float,
    minimum: float | None,
    maximum: float | None,
    hist: np.ndarray | None = None,
    hist_scale: float = 1.0,
) -> float | None:
    """Compute one period's datapoint for a ``Statistic`` or percentile.

    Args:
        stat: One of :data:`STATISTICS`, or a percentile such as ``"p99"``.
        count: Number of samples in the period.
        total: Sum of the samples.
        minimum: Smallest sample (None when there are none).
        maximum: Largest sample (None when there are none).
        hist: Latency histogram counts (see :func:`hist_counts`), needed only
            for percentiles.
        hist_scale: Factor from the histogram's milliseconds to the unit of
            ``total``, ``minimum`` and ``maximum``: 1.0 if they are in
            milliseconds, 0.001 if they are in seconds as CloudWatch reports
            ``TargetResponseTime``.

    Returns:
        The datapoint value, or None when the period has no samples: such a
        period publishes no datapoint, so the alarm sees it as missing.
        Metrics that AWS always reports, such as ``RequestCount``, must be
        given their zero by the caller.

    Raises:
        ValueError: If ``stat`` is unknown, or a percentile is asked for
            without ``hist``.
    """
    q = None
    if stat not in STATISTICS:
        # Parsed before the empty-period shortcut, so a misspelt statistic
        # fails on the first evaluation, not only once traffic arrives.
        try:
            q = parse_extended_statistic(stat)
        except ValueError:
            raise ValueError(
                f"stat must be one of {', '.join(STATISTICS)} or a percentile "
                f"such as 'p99'; got {stat!r}"
            ) from None
    if count == 0:
        return None
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return float(total)
    if stat == "Average":
        return float(total) / count
    if stat == "Minimum":
        return None if minimum is None else float(minimum)
    if stat == "Maximum":
        return None if maximum is None else float(maximum)
    if hist is None:
        raise ValueError(f"hist is required for the percentile statistic {stat!r}")
    # The extremes are known exactly; the histogram only approximates them.
    if q == 0.0 and minimum is not None:
        return float(minimum)
    if q == 1.0 and maximum is not None:
        return float(maximum)
    value = hist_percentile(hist, q) * hist_scale
    # The true percentile lies within [minimum, maximum]; a bucket midpoint
    # can poke outside it, and clamping only moves it closer to the truth.
    if minimum is not None:
        value = max(value, float(minimum))
    if maximum is not None:
        value = min(value, float(maximum))
    return value

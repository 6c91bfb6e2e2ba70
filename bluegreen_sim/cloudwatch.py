"""CloudWatch metric-alarm rules and datapoint statistics, as pure functions.

This module is the rule book that the simulator's alarm evaluator and metric
store consult. It holds no simulation state and imports no SimPy: every
function takes plain values and returns plain values, so a student can check
an alarm rule in a REPL and the tests can pin each rule with an example.

Three groups of functions:

* Alarm evaluation: :func:`evaluate_alarm` applies CloudWatch's documented
  rules (M out of N, the evaluation range wider than N, the four
  ``TreatMissingData`` settings and the premature-alarm rule) to one
  evaluation range of datapoints. :func:`evaluation_range` says how many
  periods that range holds and :func:`breaches` compares one datapoint.
* Statistics: :func:`statistic_value` turns the aggregates of one period
  (count, sum, minimum, maximum, latency histogram) into the value of a
  ``Statistic`` or ``ExtendedStatistic`` such as ``p99.9``;
  :func:`parse_extended_statistic` reads the percentile name.
* Latency histograms: log-spaced buckets 1 % wide (:data:`HIST_EDGES`,
  :func:`hist_bucket`, :func:`hist_counts`, :func:`hist_percentile`).
  Percentiles do not aggregate, but bucket counts do: summing the counts of
  two windows gives the histogram of their union, so any phase's percentile
  can be read from summed per-window counts.

Sources: the CloudWatch User Guide, "Configuring how CloudWatch alarms treat
missing data" and "Avoiding premature transitions to alarm state" (2023
text), and the tables of its 2018-2020 versions, as summarised in
``AWS_FACTS.md`` section 4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

__all__ = [
    "ALARM_STATES",
    "COMPARISONS",
    "HIST_BUCKETS",
    "HIST_EDGES",
    "HIST_MIDPOINTS",
    "STATISTICS",
    "TREAT_MISSING",
    "breaches",
    "evaluate_alarm",
    "evaluation_range",
    "hist_bucket",
    "hist_counts",
    "hist_percentile",
    "parse_extended_statistic",
    "statistic_value",
]

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

#: The three alarm states (``StateValue`` in the CloudWatch API).
ALARM_STATES: tuple[str, ...] = (OK, ALARM, INSUFFICIENT_DATA)

#: The four static-threshold comparison operators. The anomaly-band operators
#: are left out: the simulator has no anomaly-detection models.
COMPARISONS: tuple[str, ...] = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)

#: The ``TreatMissingData`` settings, spelled as in the API; ``missing`` is
#: the AWS default.
TREAT_MISSING: tuple[str, ...] = ("missing", "ignore", "breaching", "notBreaching")

#: The simple ``Statistic`` names. Percentiles go by ``ExtendedStatistic``.
STATISTICS: tuple[str, ...] = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")

_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


# --------------------------------------------------------------------------
# Alarm evaluation
# --------------------------------------------------------------------------


def evaluation_range(evaluation_periods: int) -> int:
    """Return how many periods CloudWatch retrieves for one alarm evaluation.

    AWS says only that CloudWatch "attempts to retrieve a higher number of
    data points than the number specified as Evaluation Periods", and its
    worked examples use a range of 5 for ``EvaluationPeriods`` = 3. No formula
    is published. This uses ``N + max(N // 3, 2)``, the reading of the
    LocalStack emulator, which gives 5 for N = 3 as documented. It is kept in
    this one function so that a better-sourced formula changes one line.

    Args:
        evaluation_periods: The alarm's ``EvaluationPeriods`` (N), at least 1.

    Returns:
        The number of most recent periods in the evaluation range.

    Raises:
        TypeError: If ``evaluation_periods`` is not an integer.
        ValueError: If ``evaluation_periods`` is less than 1.
    """
    _check_count("evaluation_periods", evaluation_periods)
    return evaluation_periods + max(evaluation_periods // 3, 2)


def breaches(value: float, threshold: float, comparison: str) -> bool:
    """Say whether one datapoint breaches the alarm threshold.

    Args:
        value: The datapoint's statistic value (not missing).
        threshold: The alarm ``Threshold``.
        comparison: One of :data:`COMPARISONS`.

    Returns:
        True if ``value <op> threshold`` holds, which CloudWatch counts as a
        breaching datapoint.

    Raises:
        ValueError: If ``comparison`` is not one of :data:`COMPARISONS`.
    """
    try:
        compare = _COMPARE[comparison]
    except (KeyError, TypeError):
        raise ValueError(
            f"comparison must be one of {', '.join(COMPARISONS)}; got {comparison!r}"
        ) from None
    return bool(compare(value, threshold))


def evaluate_alarm(
    values: Sequence[float | None],
    *,
    threshold: float,
    comparison: str,
    evaluation_periods: int,
    datapoints_to_alarm: int | None = None,
    treat_missing_data: str = "missing",
    previous_state: str = "INSUFFICIENT_DATA",
) -> str:
    """Evaluate a metric alarm once, with CloudWatch's missing-data rules.

    ``values`` is the evaluation range, oldest first, one entry per period,
    ``None`` (or NaN) where the metric reported nothing. Call
    :func:`evaluation_range` for its usual length; a shorter list is read as
    if the periods before it were missing, as for a metric that has just
    started reporting. Let N = ``evaluation_periods``, M =
    ``datapoints_to_alarm``, r = the number of real (non-missing) datapoints
    in the range and k = how many of them breach.

    Rules, in the order applied (the AWS wording is quoted in
    ``AWS_FACTS.md`` section 4.2):

    1. r >= N: the N most recent real datapoints are evaluated, reaching back
       as far into the range as needed; ``treat_missing_data`` "is not needed
       and is ignored". ALARM if at least M of them breach, else OK.
    2. r < N, ``breaching`` / ``notBreaching``: every real datapoint of the
       range is evaluated together with N - r filled datapoints, the fewest
       possible. ``breaching`` fills count as breaches: ALARM if
       k + (N - r) >= M. ``notBreaching`` fills do not: ALARM if k >= M.
       Otherwise OK. With every datapoint missing this gives ALARM and OK.
    3. r < N, ``missing`` / ``ignore``: only the real datapoints count.

       a. r = 0: ``missing`` gives INSUFFICIENT_DATA; ``ignore`` keeps
          ``previous_state``.
       b. k >= M: ALARM; the real datapoints alone reach M.
       c. Some real datapoint does not breach (and k < M): OK. "If fewer than
          Datapoints to Alarm are breaching, the alarm state is set to OK."
       d. Every real datapoint breaches but there are fewer than M of them:
          the outcome hangs on the missing datapoints, so CloudWatch holds
          back. Under ``missing`` the premature-alarm rule decides: ALARM when
          the oldest real datapoint (which breaches) is at least M periods old
          (the newest period is 1 period old), otherwise INSUFFICIENT_DATA.
          Under ``ignore`` the state is kept: ``previous_state``.

    How the ambiguous cases are read, and why:

    * Rule 3c: AWS's tables give OK for ``0 - - - -`` (M = 3) and for
      ``- - - - 0`` and ``0 - X - -`` (M = 2) under both ``missing`` and
      ``ignore``, although missing datapoints could still have made M. So a
      non-breaching real datapoint settles OK; it is not "undecided".
    * Rule 3d, the premature-alarm rule: AWS says an alarm goes to ALARM
      "when the oldest available breaching datapoint during the Evaluation
      Periods number of data points is at least as old as the value of
      Datapoints to Alarm, and all other more recent data points are
      breaching or missing", and its 2-of-3 table gives OK for ``0 - X - -``
      although the X is 3 periods old. Both fit only if the oldest
      *available* datapoint must itself breach, so one non-breaching real
      datapoint anywhere in the range blocks the rule. The 2019 guide said
      this directly ("the oldest evaluated data point is breaching and there
      aren't any non-breaching data points").
    * Rule 3d, how far back: when r < N the N evaluated datapoints contain
      every real datapoint of the range (rule 2's "all real data points in
      the evaluation range are included"), and the guide's last paragraph
      says "during the evaluation range". So a breaching datapoint older than
      N periods counts: ``X - - - -`` with M = 3 gives ALARM, as the 2019
      table row did. This differs from a "last N periods only" reading only
      when the real datapoints are all older than N periods.
    * Rule 3d, when the rule does not apply (``- - - - X`` or ``- - - X -``
      with M = 3): the current guide says only that the alarm "does not go
      immediately into ALARM state". The 2018-2020 tables give
      INSUFFICIENT_DATA under ``missing`` and "retain current state" under
      ``ignore`` for ``- - - - X`` (with M = 3 and M = 2); that is used.
    * ``ignore`` and the premature-alarm rule: the current table gives
      "retain current state" for ``- - X - -`` (M = 3) and ``- - - X -``
      (M = 2) under ``ignore``, so the rule sends only ``missing`` to ALARM.
      (A 2019 version said ALARM; it was corrected in 2020.)

    Args:
        values: Datapoints of the evaluation range, oldest first; ``None`` or
            NaN for a missing datapoint.
        threshold: The alarm ``Threshold``.
        comparison: One of :data:`COMPARISONS`.
        evaluation_periods: N, the alarm's ``EvaluationPeriods`` (>= 1).
        datapoints_to_alarm: M, the alarm's ``DatapointsToAlarm``
            (1 <= M <= N); ``None`` means M = N, as in AWS.
        treat_missing_data: One of :data:`TREAT_MISSING`.
        previous_state: The alarm's state before this evaluation, one of
            :data:`ALARM_STATES`; returned where ``ignore`` keeps the state.

    Returns:
        The alarm state after this evaluation: ``"OK"``, ``"ALARM"`` or
        ``"INSUFFICIENT_DATA"``.

    Raises:
        TypeError: If ``evaluation_periods`` or ``datapoints_to_alarm`` is not
            an integer.
        ValueError: If an argument is out of its domain (unknown operator,
            setting or state; N < 1; M < 1 or M > N); the message names the
            argument.

    Examples:
        >>> evaluate_alarm([0, None, 5, None, 5], threshold=1,
        ...                comparison="GreaterThanThreshold",
        ...                evaluation_periods=3, datapoints_to_alarm=2)
        'ALARM'
        >>> evaluate_alarm([None, None, 5, None, None], threshold=1,
        ...                comparison="GreaterThanThreshold",
        ...                evaluation_periods=3)
        'ALARM'
        >>> evaluate_alarm([None, None, None, None, 5], threshold=1,
        ...                comparison="GreaterThanThreshold",
        ...                evaluation_periods=3)
        'INSUFFICIENT_DATA'
    """
    n = evaluation_periods
    _check_count("evaluation_periods", n)
    m = n if datapoints_to_alarm is None else datapoints_to_alarm
    _check_count("datapoints_to_alarm", m)
    if m > n:
        raise ValueError(f"datapoints_to_alarm ({m}) must not exceed evaluation_periods ({n})")
    if treat_missing_data not in TREAT_MISSING:
        raise ValueError(
            f"treat_missing_data must be one of {', '.join(TREAT_MISSING)}; "
            f"got {treat_missing_data!r}"
        )
    if previous_state not in ALARM_STATES:
        raise ValueError(
            f"previous_state must be one of {', '.join(ALARM_STATES)}; got {previous_state!r}"
        )
    # Checked here, not only inside breaches(), so that a bad operator fails
    # even when every datapoint is missing and nothing gets compared.
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}; got {comparison!r}")

    # One flag per period: None = missing, True = breaching, False = not.
    flags = [
        None if _is_missing(value) else breaches(value, threshold, comparison) for value in values
    ]
    real = [flag for flag in flags if flag is not None]
    n_real = len(real)

    # Rule 1: enough real datapoints, so missing ones need no treatment.
    if n_real >= n:
        return ALARM if sum(real[-n:]) >= m else OK

    n_breaching = sum(real)
    # Rule 2: the N - r fills stand for the missing datapoints.
    if treat_missing_data == "breaching":
        return ALARM if n_breaching + (n - n_real) >= m else OK
    if treat_missing_data == "notBreaching":
        return ALARM if n_breaching >= m else OK

    # Rule 3: missing / ignore look at the real datapoints only.
    if n_real == 0:
        return INSUFFICIENT_DATA if treat_missing_data == "missing" else previous_state
    if n_breaching >= m:
        return ALARM
    if n_breaching < n_real:
        return OK
    # Every real datapoint breaches, but fewer than M: the missing datapoints
    # decide, and CloudWatch refuses to guess them.
    if treat_missing_data == "ignore":
        return previous_state
    oldest_age = len(flags) - flags.index(True)
    # A breach that has stood for M periods with nothing but silence since is
    # alarmed on (premature-alarm rule); a fresher one might be followed by a
    # good datapoint, so the alarm waits.
    return ALARM if oldest_age >= m else INSUFFICIENT_DATA


def _is_missing(value: float | None) -> bool:
    # NaN is accepted as "missing" because an Average over zero samples
    # naturally comes out as NaN in numpy code.
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def _check_count(name: str, value: object) -> None:
    # bool is an int subclass; True as a period count is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}")


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

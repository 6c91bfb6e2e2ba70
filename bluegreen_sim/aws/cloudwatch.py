"""CloudWatch metric-alarm rules, as pure functions.

This module is the rule book that the simulator's alarm evaluator and metric
store consult. It holds no simulation state and imports no SimPy: every
function takes plain values and returns plain values, so a student can check
an alarm rule in a REPL and the tests can pin each rule with an example.

:func:`evaluate_alarm` applies CloudWatch's documented rules (M out of N,
the evaluation range wider than N, the four ``TreatMissingData`` settings and
the premature-alarm rule) to one evaluation range of datapoints.
:func:`evaluation_range` says how many periods that range holds and
:func:`breaches` compares one datapoint. Datapoint statistics and latency
histograms are in :mod:`.statistics`.

Sources: the CloudWatch User Guide, "Configuring how CloudWatch alarms treat
missing data" and "Avoiding premature transitions to alarm state" (2023
text), and the tables of its 2018-2020 versions, as summarised in
``AWS_FACTS.md`` section 4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "ALARM_STATES",
    "COMPARISONS",
    "STATISTICS",
    "TREAT_MISSING",
    "breaches",
    "evaluate_alarm",
    "evaluation_range",
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

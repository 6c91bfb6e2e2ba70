"""The power calculator: what a canary step can catch, and what it takes to catch a regression.

One canary step sends ``weight`` % of ``rate`` requests per second to green for ``bake``
seconds. Green fails a fraction ``baseline`` of its requests when healthy and ``baseline +
delta`` after a regression. With the exact chain of :mod:`.detection`:

* :func:`step_power` gives P(the deployment sees ALARM during the step) for the regression
  (the power, 1 − β) and for the healthy release (the false-rollback rate α);
* :func:`min_exposure` searches canary weights × bake times for the smallest exposure (weight ×
  bake, proportional to the requests sent to green) that reaches power 1 − β with α at most the
  allowed one, optionally tuning the threshold of a ``Sum`` alarm to the lowest that keeps α;
* :func:`smallest_detectable` inverts the power: the smallest δ this step detects with
  probability 1 − β.

The step starts on a minute boundary (as ``start`` says, shift it to see the effect of a
misaligned start); polls every ``poll_interval`` from the step's start; detection counts if a
poll strictly before the end of the step reads ALARM (the simulator shifts traffic before a poll
of the same instant).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from .detection import CountAlarm, Detection, Traffic, detection

__all__ = [
    "DEFAULT_BAKES",
    "DEFAULT_WEIGHTS",
    "min_exposure",
    "smallest_detectable",
    "step_detection",
    "step_power",
]

DEFAULT_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 33.0, 50.0)
DEFAULT_BAKES = tuple(60.0 * m for m in (1, 2, 3, 5, 10, 15, 20, 30))
_EPS = 1e-6  # a poll at the very end of the step comes after the shift


def step_traffic(
    dimension: str,
    *,
    rate: float,
    weight: float,
    error_rate: float,
    start: float,
    blue_error_rate: float,
) -> Traffic:
    """Rates in the alarm's dimension: blue alone before ``start``, then the canary split."""
    w = weight / 100.0
    green = (rate * w * error_rate, rate * w)
    blue = (rate * (1 - w) * blue_error_rate, rate * (1 - w))
    if dimension == "green":
        during = green
        before = (0.0, 0.0)
    elif dimension == "blue":
        during = blue
        before = (rate * blue_error_rate, rate)
    else:
        during = (green[0] + blue[0], rate)
        before = (rate * blue_error_rate, rate)
    return Traffic((0.0, start), (before[0], during[0]), (before[1], during[1]))


def step_detection(
    alarm: CountAlarm,
    *,
    rate: float,
    weight: float,
    bake: float,
    error_rate: float,
    blue_error_rate: float = 0.0,
    start: float = 120.0,
    poll_interval: float = 60.0,
    publish_delay: float = 0.0,
) -> Detection:
    """Detection during one canary step of ``bake`` seconds from ``start``.

    Args:
        alarm: the alarm.
        rate: production requests per second.
        weight: percent of them sent to green.
        bake: seconds the step lasts.
        error_rate: green's error probability per request.
        blue_error_rate: blue's (matters for alarms on the load balancer).
        start: seconds since the alarm's first evaluation window (the simulation start).
        poll_interval: ``deployment.alarm_poll_interval``.
        publish_delay: ``cloudwatch.publish_delay``.
    """
    traffic = step_traffic(
        alarm.dimension,
        rate=rate,
        weight=weight,
        error_rate=error_rate,
        start=start,
        blue_error_rate=blue_error_rate,
    )
    end = start + bake - _EPS
    return detection(
        alarm,
        traffic,
        horizon=end,
        polls_from=start,
        polls_until=end,
        poll_interval=poll_interval,
        publish_delay=publish_delay,
    )


def step_power(alarm: CountAlarm, *, baseline: float, delta: float, **step) -> tuple[float, float]:
    """(P(detect the regression δ), P(false rollback)) of one step; ``step`` as for
    :func:`step_detection` without ``error_rate``."""
    bad = step_detection(alarm, error_rate=min(baseline + delta, 1.0), **step).probability
    good = step_detection(alarm, error_rate=baseline, **step).probability
    return bad, good


def _tuned(alarm: CountAlarm, alpha: float, baseline: float, **step) -> CountAlarm | None:
    """The ``Sum`` alarm with the lowest integer threshold whose false-rollback rate is <= α."""
    if alarm.ratio or not alarm.comparison.startswith("Greater"):
        raise ValueError("threshold tuning needs a Sum alarm with a 'greater' comparison")
    rate, weight, bake = step["rate"], step["weight"], step["bake"]
    # More errors than the whole step can plausibly send cannot be needed.
    top = int(rate * weight / 100 * bake * max(baseline, 1e-9) * 10 + 50)
    lo, hi = 0, top
    comparison = "GreaterThanThreshold"

    def false(threshold: int) -> float:
        a = replace(alarm, threshold=float(threshold), comparison=comparison)
        return step_detection(a, error_rate=baseline, **step).probability

    if false(hi) > alpha:
        return None
    while lo < hi:  # the false-alarm rate falls as the threshold rises
        mid = (lo + hi) // 2
        if false(mid) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return replace(alarm, threshold=float(lo), comparison=comparison)


def min_exposure(
    alarm: CountAlarm,
    *,
    rate: float,
    baseline: float,
    delta: float,
    alpha: float = 0.01,
    beta: float = 0.05,
    weights=DEFAULT_WEIGHTS,
    bakes=DEFAULT_BAKES,
    tune_threshold: bool = False,
    **step,
) -> pd.DataFrame:
    """Every (weight, bake) with its power and false-rollback rate, the smallest feasible first.

    Args:
        alarm: the alarm (its threshold is kept unless ``tune_threshold``).
        rate: production requests per second.
        baseline: green's error rate when healthy.
        delta: the regression (extra error probability) to detect.
        alpha: the largest acceptable P(false rollback) of the step.
        beta: 1 − the required power.
        weights: canary weights to try (percent).
        bakes: bake times to try (seconds).
        tune_threshold: per (weight, bake), use the lowest ``GreaterThanThreshold`` integer
            threshold of a ``Sum`` alarm that keeps the false-rollback rate <= α.
        step: passed to :func:`step_detection` (``start``, ``poll_interval``, ...).

    Returns:
        Columns ``weight``, ``bake_s``, ``threshold``, ``p_detect``, ``p_false``,
        ``exposure`` (weight × bake in %·min), ``feasible``; feasible rows first, by exposure,
        then bake.
    """
    rows = []
    for weight in weights:
        for bake in bakes:
            args = dict(rate=rate, weight=weight, bake=bake, **step)
            a = _tuned(alarm, alpha, baseline, **args) if tune_threshold else alarm
            if a is None:
                continue
            p_detect, p_false = step_power(a, baseline=baseline, delta=delta, **args)
            rows.append(
                {
                    "weight": weight,
                    "bake_s": bake,
                    "threshold": a.threshold,
                    "p_detect": p_detect,
                    "p_false": p_false,
                    "exposure": weight * bake / 60.0,
                    "feasible": p_detect >= 1 - beta and p_false <= alpha,
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(
        ["feasible", "exposure", "bake_s"], ascending=[False, True, True]
    ).reset_index(drop=True)


def smallest_detectable(
    alarm: CountAlarm,
    *,
    baseline: float,
    beta: float = 0.05,
    tolerance: float = 1e-4,
    **step,
) -> float:
    """The smallest extra error probability δ detected with probability >= 1 − β.

    Returns:
        δ (to within ``tolerance``), or ``inf`` when even a green that fails every request is
        not detected that often (the step is too short or too small for this alarm).
    """

    def power(delta: float) -> float:
        return step_detection(alarm, error_rate=min(baseline + delta, 1.0), **step).probability

    hi = 1.0 - baseline
    if hi <= 0 or power(hi) < 1 - beta:
        return math.inf
    lo = 0.0
    if power(lo) >= 1 - beta:
        return 0.0
    while hi - lo > tolerance:  # the power rises with δ for 'greater' alarms on errors
        mid = 0.5 * (lo + hi)
        if power(mid) >= 1 - beta:
            hi = mid
        else:
            lo = mid
    return float(hi)


def power_curve(alarm: CountAlarm, *, baseline: float, deltas, **step) -> np.ndarray:
    """P(detect) for each δ of ``deltas``."""
    return np.array(
        [
            step_detection(alarm, error_rate=min(baseline + d, 1.0), **step).probability
            for d in deltas
        ]
    )

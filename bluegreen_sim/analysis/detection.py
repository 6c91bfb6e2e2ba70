"""Exact detection analysis of a CloudWatch alarm on an ALB error count.

For an alarm on ``HTTPCode_Target_5XX_Count`` (statistic ``Sum``) or on the error rate
``100 * A / B`` with A that count and B ``RequestCount`` of the same dimension, and for traffic
whose rates are known in advance (Poisson arrivals, each request an error with a fixed
probability, a weighted random split between the target groups), this module computes without
simulation:

* the distribution of one period's datapoint: breaching, not breaching, or missing (a count of
  zero is not reported, so a Sum of zero errors and a ratio with zero errors are *missing*), from
  Poisson counts; for the ratio, errors E and successes S of a Poisson number of requests are
  independent Poisson counts (Poisson thinning), so P(breach) is an exact sum over E of Poisson
  CDFs of S;
* the alarm's evaluation as a Markov chain whose state is the flags of the datapoints in its
  evaluation range (3^W states, W ≤ 10) and its previous state (for ``ignore``); each
  transition applies :func:`~bluegreen_sim.cloudwatch.evaluate_alarm` itself, tabulated once,
  so the chain follows the simulator's rules exactly;
* the deployment's polls (every ``alarm_poll_interval`` from ``polls_from``): the first poll
  that reads ALARM stops the deployment, so ALARM is absorbing at poll instants; this gives
  P(detected by t), the pmf of the detection time and expected counts until detection.

It models the simulator (``metrics.Alarm``): an alarm evaluates every 60 s from t = 60 s, over
``evaluation_range(N)`` periods ending at that instant; windows that start before t = 0 are
missing; with a ``publish_delay`` d the newest ceil(d / 60 s) periods are missing. With a
period of 60 s successive evaluations shift the range by exactly one period, and the chain is
exact. With a period of k minutes (k > 1) an evaluation every minute sees overlapping windows:
the evaluations split into k interleaved phases, each an exact chain of its own, and detection is
the union of the phases' detections; the result then holds the exact bounds
max_r P_r ≤ P ≤ min(1, Σ_r P_r) and, as its point value, the independence approximation
1 − Π_r (1 − P_r). Percentile statistics (p99 ``TargetResponseTime``) have no closed form
here: :class:`NotAnalytic` says so, and the caller simulates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ..aws.cloudwatch import COMPARISONS, TREAT_MISSING, evaluate_alarm, evaluation_range

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CountAlarm",
    "Detection",
    "NotAnalytic",
    "Traffic",
    "datapoint_probabilities",
    "detection",
]

NOT, BREACH, MISSING = 0, 1, 2  # flag of one datapoint
OK, ALARM, INSUFFICIENT = 0, 1, 2  # alarm state, as indices
_STATE_NAMES = ("OK", "ALARM", "INSUFFICIENT_DATA")
CADENCE = 60.0  # the simulator's alarms wake every minute for periods of a minute or more
MAX_TRACKED = 10  # 3^10 = 59049 patterns; beyond that the table gets slow to build
_TAIL = 1e-13  # Poisson mass left out of the ratio's sum over error counts


class NotAnalytic(ValueError):
    """The alarm or the traffic is outside what the closed form covers: simulate instead."""


@dataclass(frozen=True)
class CountAlarm:
    """The analysable part of an alarm: an error count (or error rate) and its rule.

    Attributes:
        threshold: the alarm ``Threshold``.
        comparison: one of the four static comparison operators.
        period: seconds, a multiple of 60 (ALB metrics are 60-second metrics).
        evaluation_periods: N.
        datapoints_to_alarm: M (``None``: M = N).
        treat_missing_data: one of ``missing``, ``ignore``, ``breaching``, ``notBreaching``.
        ratio: False for ``Sum`` of the 5XX count, True for ``factor * 5XX / RequestCount``.
        factor: the expression's factor (100 for a percentage).
        dimension: ``"green"``, ``"blue"`` or ``"load_balancer"``: whose requests count.
        name: the alarm's name, for messages.
    """

    threshold: float
    comparison: str = "GreaterThanThreshold"
    period: float = 60.0
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    ratio: bool = False
    factor: float = 100.0
    dimension: str = "green"
    name: str = "alarm"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}")
        if self.treat_missing_data not in TREAT_MISSING:
            raise ValueError(f"treat_missing_data must be one of {', '.join(TREAT_MISSING)}")
        if self.period < CADENCE or self.period % CADENCE:
            raise NotAnalytic(
                f"{self.name}: period {self.period:g}s; ALB metrics are 60-second "
                "metrics, so the period must be a multiple of 60s"
            )
        if not 1 <= self.m <= self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must be between 1 and evaluation_periods")
        if self.dimension not in ("green", "blue", "load_balancer"):
            raise ValueError("dimension must be green, blue or load_balancer")

    @property
    def m(self) -> int:
        """M, the datapoints that must breach."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @classmethod
    def from_spec(cls, spec) -> CountAlarm:
        """The analysable form of a scenario's :class:`~bluegreen_sim.scenario.AlarmSpec`.

        Raises:
            NotAnalytic: a percentile, or a metric whose counts the analysis does not model
                (ELB 5XX counts come from crashes and timeouts, not from an error rate).
        """
        common = dict(
            threshold=spec.threshold,
            comparison=spec.comparison,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data,
            name=spec.name,
        )
        if spec.expression is not None:
            factor, a, b = spec.ratio
            ra, rb = spec.metrics[a], spec.metrics[b]
            if (
                ra.metric != "HTTPCode_Target_5XX_Count"
                or rb.metric != "RequestCount"
                or ra.statistic not in ("Sum", "SampleCount")
                or rb.statistic not in ("Sum", "SampleCount")
                or ra.target_group != rb.target_group
            ):
                raise NotAnalytic(
                    f"alarm {spec.name}: only '{factor:g} * 5XX / RequestCount' (Sums of one "
                    "dimension) has a closed form"
                )
            return cls(
                ratio=True, factor=factor, dimension=ra.target_group or "load_balancer", **common
            )
        if spec.extended_statistic is not None:
            raise NotAnalytic(
                f"alarm {spec.name}: {spec.extended_statistic} of {spec.metric} has no closed "
                "form (percentiles of a latency mixture); simulate it"
            )
        if spec.metric != "HTTPCode_Target_5XX_Count" or spec.statistic not in (
            "Sum",
            "SampleCount",
        ):
            raise NotAnalytic(
                f"alarm {spec.name}: {spec.statistic} of {spec.metric} is not an error count "
                "the analysis models; simulate it"
            )
        return cls(dimension=spec.target_group or "load_balancer", **common)


# --------------------------------------------------------------------------------------------
# Traffic and datapoints


@dataclass(frozen=True)
class Traffic:
    """Piecewise-constant rates: from ``times[i]`` on, ``errors[i]`` counted errors per second
    and ``requests[i]`` requests per second (in the alarm's dimension); zero before
    ``times[0]``."""

    times: tuple[float, ...]
    errors: tuple[float, ...]
    requests: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.times) == len(self.errors) == len(self.requests)) or not self.times:
            raise ValueError("times, errors and requests must be non-empty and of one length")
        if any(b < a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("times must be sorted")
        if any(e < 0 or e > r + 1e-12 for e, r in zip(self.errors, self.requests, strict=True)):
            raise ValueError("rates must satisfy 0 <= errors <= requests")

    def cumulative(self, t: np.ndarray | float, which: str = "errors") -> np.ndarray:
        """Expected count in [0, t)."""
        rates = np.asarray(getattr(self, which), float)
        times = np.asarray(self.times, float)
        edges = np.append(times, np.inf)
        t = np.asarray(t, float)[..., None]
        overlap = np.clip(np.minimum(t, edges[1:]) - edges[:-1], 0.0, None)
        return (overlap * rates).sum(axis=-1)

    def mean(self, start, end) -> tuple[np.ndarray, np.ndarray]:
        """Expected (errors, requests) in the windows [start, end)."""
        return (
            self.cumulative(end) - self.cumulative(start),
            self.cumulative(end, "requests") - self.cumulative(start, "requests"),
        )


def _exceeds(value, threshold: float, strict: bool):
    return value > threshold if strict else value >= threshold


def datapoint_probabilities(
    alarm: CountAlarm, errors: np.ndarray, requests: np.ndarray | None = None
) -> np.ndarray:
    """P(not breaching), P(breaching), P(missing) of datapoints with the given expected counts.

    Args:
        alarm: the alarm.
        errors: expected counted errors in each window.
        requests: expected requests in each window (needed for a ratio alarm).

    Returns:
        An array of shape ``(len(errors), 3)``, columns in the order not, breach, missing.
    """
    mu = np.atleast_1d(np.asarray(errors, float))
    op = alarm.comparison
    # "<" is "not >=" and "<=" is "not >": one computation for the two "greater" operators.
    strict = op in ("GreaterThanThreshold", "LessThanOrEqualToThreshold")
    greater = op.startswith("Greater")
    missing = np.exp(-mu)
    if not alarm.ratio:
        # P(1 <= N and N exceeds the threshold): N >= lo, lo the smallest such integer >= 1
        thr = alarm.threshold
        lo = math.floor(thr) + 1 if strict else math.ceil(thr)
        lo = max(lo, 1)
        exceed = stats.poisson.sf(lo - 1, mu)
        breach = exceed if greater else (1.0 - missing) - exceed
    else:
        if requests is None:
            raise ValueError("a ratio alarm needs the expected requests")
        lam = np.atleast_1d(np.asarray(requests, float))
        pairs = zip(mu, lam, strict=True)
        breach = np.array([_ratio_exceeds(alarm, e, max(r - e, 0.0), strict) for e, r in pairs])
        if not greater:
            breach = (1.0 - missing) - breach
    breach = np.clip(breach, 0.0, 1.0)
    return np.column_stack((np.clip(1.0 - missing - breach, 0.0, 1.0), breach, missing))


def _ratio_exceeds(alarm: CountAlarm, mu_e: float, mu_s: float, strict: bool) -> float:
    """P(E >= 1 and factor * E / (E + S) exceeds the threshold), E, S independent Poisson."""
    if mu_e <= 0:
        return 0.0
    f, thr = alarm.factor, alarm.threshold
    top = int(stats.poisson.isf(_TAIL, mu_e)) + 2
    e = np.arange(1, top + 1, dtype=float)
    # The value falls as S grows: find the largest s that still exceeds, from a float guess
    # corrected against the very expression the simulator evaluates.
    big = 1e18
    guess = np.full_like(e, big) if thr <= 0 else np.floor(e * (f - thr) / thr)
    s = np.clip(guess, -1, big)
    for _ in range(2):
        up = (s + 1 < big) & _exceeds(f * e / (e + s + 1), thr, strict)
        s = np.where(up, s + 1, s)
        down = (s >= 0) & ~_exceeds(f * e / np.maximum(e + s, 1e-300), thr, strict)
        s = np.where(down, s - 1, s)
    p_s = np.where(s >= big, 1.0, np.where(s < 0, 0.0, stats.poisson.cdf(s, mu_s)))
    return float(np.sum(stats.poisson.pmf(e, mu_e) * p_s))


# --------------------------------------------------------------------------------------------
# The chain


@lru_cache(maxsize=64)
def _table(n: int, m: int, treat: str, tracked: int, lag: int) -> np.ndarray:
    """Next alarm state for every (previous state, pattern of the tracked flags).

    The pattern's base-3 digits are the flags of the ``tracked`` newest real windows, oldest
    most significant; ``lag`` newer windows are missing (publish delay).
    """
    size = 3**tracked
    digits = (np.arange(size)[:, None] // 3 ** np.arange(tracked - 1, -1, -1)) % 3
    out = np.empty((3, size), np.int8)
    value = {NOT: 0.0, BREACH: 1.0, MISSING: None}
    for prev in range(3):
        if prev and treat != "ignore":
            out[prev] = out[0]  # only ``ignore`` ever returns the previous state
            continue
        for idx in range(size):
            values = [value[d] for d in digits[idx]] + [None] * lag
            state = evaluate_alarm(
                values,
                threshold=0.5,
                comparison="GreaterThanThreshold",
                evaluation_periods=n,
                datapoints_to_alarm=m,
                treat_missing_data=treat,
                previous_state=_STATE_NAMES[prev],
            )
            out[prev, idx] = _STATE_NAMES.index(state)
    return out


def _chain(table: np.ndarray, flags: np.ndarray, absorb: np.ndarray) -> np.ndarray:
    """Run the chain over evaluations; return the ALARM mass absorbed at each one.

    Args:
        table: next state per (previous state, pattern).
        flags: (evaluations, 3) distribution of the datapoint each evaluation adds.
        absorb: per evaluation, whether a poll reads its state (and stops on ALARM).
    """
    size = table.shape[1]
    v = np.zeros((3, size))
    v[INSUFFICIENT, size - 1] = 1.0  # every window missing, as at t = 0
    depends = bool((table[1] != table[0]).any() or (table[2] != table[0]).any())
    masks = [[table[a] == b for b in range(3)] for a in range(3 if depends else 1)]
    out = np.zeros(len(flags))
    for i, dist in enumerate(flags):
        v = v.reshape(3, 3, size // 3).sum(axis=1)
        v = (v[:, :, None] * dist).reshape(3, size)
        if depends:
            new = np.zeros_like(v)
            for a in range(3):
                for b in range(3):
                    new[b] += np.where(masks[a][b], v[a], 0.0)
        else:
            total = v.sum(axis=0)
            new = np.stack([np.where(masks[0][b], total, 0.0) for b in range(3)])
        v = new
        if absorb[i]:
            out[i] = v[ALARM].sum()
            v[ALARM] = 0.0
    return out


@dataclass(frozen=True)
class Detection:
    """When the deployment's first poll reads ALARM.

    Attributes:
        times: poll instants at which detection can happen (seconds).
        pmf: P(first detection at ``times[i]``); exact when ``exact``, else the independence
            approximation over phases.
        lower, upper: exact bounds on the CDF at ``times`` (equal to the CDF when ``exact``).
        exact: True when the chain is exact (period of 60 s).
        horizon: the analysis ends here; no detection after it is counted.
    """

    times: np.ndarray
    pmf: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    exact: bool
    horizon: float

    @property
    def cdf(self) -> np.ndarray:
        """P(detected by ``times[i]``)."""
        return np.minimum(np.cumsum(self.pmf), 1.0)

    @property
    def probability(self) -> float:
        """P(detected by the horizon)."""
        return float(self.cdf[-1]) if len(self.times) else 0.0

    def probability_by(self, t: float) -> float:
        """P(detected at a poll at or before ``t``)."""
        k = int(np.searchsorted(self.times, t + 1e-9))
        return float(self.cdf[k - 1]) if k else 0.0

    def quantile(self, q: float) -> float:
        """The q-quantile of the detection time (``inf`` when P(detect) < q)."""
        k = int(np.searchsorted(self.cdf, q - 1e-12))
        return float(self.times[k]) if k < len(self.times) else math.inf

    def expected(self, cumulative: Callable[[np.ndarray], np.ndarray]) -> float:
        """E[cumulative(min(D, horizon))], D the detection time (for example failed requests)."""
        at = np.asarray(cumulative(self.times), float) if len(self.times) else np.zeros(0)
        end = float(np.asarray(cumulative(np.array([self.horizon])), float)[0])
        return float(np.sum(self.pmf * at) + (1.0 - self.probability) * end)


def detection(
    alarm: CountAlarm,
    traffic: Traffic,
    *,
    horizon: float,
    polls_from: float = 0.0,
    polls_until: float = math.inf,
    poll_interval: float = 60.0,
    publish_delay: float = 0.0,
) -> Detection:
    """The distribution of the time at which the deployment sees its alarm in ALARM.

    Args:
        alarm: the alarm.
        traffic: the rates in the alarm's dimension over time (time 0 = the simulation start).
        horizon: seconds; evaluations and polls after it are not followed.
        polls_from: first poll (the simulator: the start of Install).
        polls_until: no poll after this (blue removal).
        poll_interval: the deployment's ``alarm_poll_interval``.
        publish_delay: ``cloudwatch.publish_delay``.

    Raises:
        NotAnalytic: the evaluation range is too wide for the exact chain, or the period is
            over a minute together with ``ignore`` or a publish delay (the phases are then not
            independent chains).
    """
    k = int(round(alarm.period / CADENCE))
    n, m = alarm.evaluation_periods, alarm.m
    width = evaluation_range(n)
    lag = math.ceil(publish_delay / CADENCE - 1e-9) if publish_delay > 0 else 0
    if k > 1 and (lag or alarm.treat_missing_data == "ignore"):
        raise NotAnalytic(
            f"alarm {alarm.name}: a period over 60s with "
            + ("a publish delay" if lag else "treat_missing_data 'ignore'")
            + " couples the minute-by-minute evaluations; simulate it"
        )
    tracked = width - lag
    if tracked > MAX_TRACKED:
        raise NotAnalytic(
            f"alarm {alarm.name}: an evaluation range of {width} periods is beyond the exact "
            f"chain ({MAX_TRACKED}); simulate it"
        )
    table = _table(n, m, alarm.treat_missing_data, max(tracked, 1), lag)

    n_eval = int(math.floor(horizon / CADENCE + 1e-9))
    evals = CADENCE * np.arange(1, n_eval + 1)
    # The first poll reading each evaluation: polls are processed after evaluations of the
    # same instant, so a poll at t reads the evaluation at t.
    last = min(polls_until, horizon)
    n_polls = int(math.floor((last - polls_from) / poll_interval + 1e-9)) + 1
    polls = polls_from + poll_interval * np.arange(n_polls) if last >= polls_from else np.zeros(0)
    reader = np.floor(polls / CADENCE + 1e-9).astype(int)  # evaluation number read (0: none)
    first_poll = {}
    for tau, j in zip(polls, reader, strict=True):
        if 1 <= j <= n_eval and j not in first_poll:
            first_poll[j] = tau

    per_phase = []
    for r in range(k):
        idx = np.array([j for j in range(1, n_eval + 1) if j % k == r], int)
        if not len(idx):
            continue
        t = evals[idx - 1]
        start = t - (lag + 1) * alarm.period
        end = t - lag * alarm.period
        e_mean, r_mean = traffic.mean(np.maximum(start, 0.0), np.maximum(end, 0.0))
        flags = datapoint_probabilities(alarm, e_mean, r_mean)
        flags[start < 0] = (0.0, 0.0, 1.0)  # the simulator reports nothing before t = 0
        if tracked <= 0:
            flags[:] = (0.0, 0.0, 1.0)
        absorb = np.array([j in first_poll for j in idx])
        mass = _chain(table, flags, absorb)
        per_phase.append({first_poll[j]: p for j, p in zip(idx, mass, strict=True) if p > 0})

    times = np.array(sorted(set(first_poll.values())), float)
    cdfs = []
    for phase in per_phase:
        pm = np.array([phase.get(tau, 0.0) for tau in times])
        cdfs.append(np.minimum(np.cumsum(pm), 1.0))
    cdfs = np.array(cdfs) if cdfs else np.zeros((1, len(times)))
    if len(cdfs) == 1:
        cdf = lower = upper = cdfs[0]
    else:
        lower = cdfs.max(axis=0)
        upper = np.minimum(cdfs.sum(axis=0), 1.0)
        cdf = 1.0 - np.prod(1.0 - cdfs, axis=0)
    pmf = np.diff(cdf, prepend=0.0)
    return Detection(
        times=times, pmf=pmf, lower=lower, upper=upper, exact=len(cdfs) == 1, horizon=horizon
    )

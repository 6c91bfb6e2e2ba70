"""The detection analysis against closed forms computed here, and against the simulator.

Closed forms: Poisson tails by direct summation of the pmf; the ratio datapoint by a double sum
over errors and successes; M of N (with the evaluation range, missing data and the previous state
for ``ignore``) by enumerating every pattern of datapoint flags and applying
``evaluate_alarm`` minute by minute. The simulator: a short canary scenario, the analysis on
each run's own schedule, the share of runs detected inside its 99 % Wilson interval.

Runtime: about 15 s.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from bluegreen_sim import evaluate_alarm, simulate
from bluegreen_sim.analysis.detection import (
    CountAlarm,
    NotAnalytic,
    Traffic,
    datapoint_probabilities,
    detection,
)
from bluegreen_sim.analysis.power import min_exposure, smallest_detectable, step_power
from bluegreen_sim.aws.cloudwatch import evaluation_range
from bluegreen_sim.scenario import AlarmSpec, scenario_from_dict

OPS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def wilson99(k: int, n: int) -> tuple[float, float]:
    z = 2.5758293035489
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# --------------------------------------------------------------------------------------------
# Datapoints


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("threshold", [0, 0.5, 2, 7])
@pytest.mark.parametrize("mu", [0.3, 4.0, 11.5])
def test_sum_datapoint_is_the_poisson_tail(op, threshold, mu):
    alarm = CountAlarm(threshold=threshold, comparison=op)
    got = datapoint_probabilities(alarm, [mu])[0]
    n = np.arange(1, 200)
    pmf = np.empty(200)
    pmf[0] = math.exp(-mu)
    for k in range(1, 200):  # the Poisson pmf by its recurrence, summed directly
        pmf[k] = pmf[k - 1] * mu / k
    pmf = pmf[1:]
    breach = pmf[OPS[op](n, threshold)].sum()
    assert got[2] == pytest.approx(math.exp(-mu), rel=1e-12)  # zero errors: not reported
    assert got[1] == pytest.approx(breach, abs=1e-12)
    assert got.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("threshold", [1.0, 5.0, 20.0])
def test_ratio_datapoint_is_the_double_sum(op, threshold):
    alarm = CountAlarm(threshold=threshold, comparison=op, ratio=True, factor=100)
    requests, q = 30.0, 0.06
    got = datapoint_probabilities(alarm, [requests * q], [requests])[0]
    # Binomial errors given a Poisson request count, summed over the request count.
    total = 0.0
    for r in range(1, 120):
        p_r = stats.poisson.pmf(r, requests)
        e = np.arange(1, r + 1)
        value = 100 * e / r
        total += p_r * stats.binom.pmf(e, r, q)[OPS[op](value, threshold)].sum()
    assert got[1] == pytest.approx(total, abs=1e-10)
    assert got[2] == pytest.approx(math.exp(-requests * q), rel=1e-12)


# --------------------------------------------------------------------------------------------
# M of N by enumeration


def brute_force(alarm: CountAlarm, p: np.ndarray, minutes: int) -> list[float]:
    """P(first ALARM at evaluation j), j = 1..minutes, for i.i.d. datapoints with flag
    probabilities p (not, breach, missing), by enumerating every flag pattern."""
    n, m = alarm.evaluation_periods, alarm.m
    width = evaluation_range(n)
    first = np.zeros(minutes)
    value = {0: 0.0, 1: 1.0, 2: None}
    for pattern in itertools.product(range(3), repeat=minutes):
        weight = float(np.prod([p[f] for f in pattern]))
        if weight == 0:
            continue
        state = "INSUFFICIENT_DATA"
        for j in range(1, minutes + 1):
            # windows j-width+1 .. j; those before the start of time report nothing
            values = [
                value[pattern[w - 1]] if w >= 1 else None for w in range(j - width + 1, j + 1)
            ]
            state = evaluate_alarm(
                values,
                threshold=0.5,
                comparison="GreaterThanThreshold",
                evaluation_periods=n,
                datapoints_to_alarm=m,
                treat_missing_data=alarm.treat_missing_data,
                previous_state=state,
            )
            if state == "ALARM":
                first[j - 1] += weight
                break
    return list(first)


@pytest.mark.parametrize(
    ("n", "m", "treat"),
    [
        (1, 1, "missing"),
        (3, 2, "notBreaching"),
        (3, 3, "missing"),
        (3, 2, "ignore"),
        (2, 1, "breaching"),
        (4, 2, "missing"),
    ],
)
def test_chain_matches_enumeration_of_breach_patterns(n, m, treat):
    alarm = CountAlarm(
        threshold=1, evaluation_periods=n, datapoints_to_alarm=m, treat_missing_data=treat
    )
    mu = 1.3  # per minute: all three flags are likely
    traffic = Traffic((0.0,), (mu / 60,), (mu / 60,))
    minutes = 7
    det = detection(alarm, traffic, horizon=60.0 * minutes, polls_from=0.0)
    p = datapoint_probabilities(alarm, [mu])[0]
    expected = brute_force(alarm, p, minutes)
    assert det.exact
    assert det.times.tolist() == [60.0 * j for j in range(1, minutes + 1)]
    np.testing.assert_allclose(det.pmf, expected, atol=1e-12)


def test_polls_every_two_minutes_miss_a_short_alarm():
    # An alarm that can go ALARM then OK between polls is seen less often.
    alarm = CountAlarm(threshold=1, evaluation_periods=1)
    traffic = Traffic((0.0,), (1.0 / 60,), (1.0 / 60,))
    every = detection(alarm, traffic, horizon=600, poll_interval=60)
    sparse = detection(alarm, traffic, horizon=600, poll_interval=120)
    assert sparse.probability < every.probability
    assert set(sparse.times) <= {120.0 * k for k in range(6)}


def test_longer_periods_give_bounds_that_hold_the_point_value():
    alarm = CountAlarm(threshold=3, period=300, evaluation_periods=2, datapoints_to_alarm=1)
    traffic = Traffic((0.0,), (0.5 / 60,), (0.5 / 60,))
    det = detection(alarm, traffic, horizon=1800)
    assert not det.exact
    assert np.all(det.lower <= det.cdf + 1e-12) and np.all(det.cdf <= det.upper + 1e-12)


def test_percentiles_and_short_periods_are_refused():
    with pytest.raises(NotAnalytic, match="60-second"):
        CountAlarm(threshold=1, period=30)
    raw = {
        "name": "p99",
        "metric": "TargetResponseTime",
        "target_group": "green",
        "extended_statistic": "p99",
        "threshold": 0.5,
    }

    with pytest.raises(NotAnalytic, match="no closed"):
        CountAlarm.from_spec(AlarmSpec(**raw))


# --------------------------------------------------------------------------------------------
# Power


def test_power_rises_with_weight_and_bake_and_inverse_is_consistent():
    alarm = CountAlarm(threshold=5, evaluation_periods=2, datapoints_to_alarm=1)
    step = dict(rate=50.0, bake=300.0, start=120.0)
    small = step_power(alarm, baseline=0.001, delta=0.02, weight=5, **step)
    large = step_power(alarm, baseline=0.001, delta=0.02, weight=25, **step)
    assert large[0] > small[0]
    delta = smallest_detectable(alarm, baseline=0.001, beta=0.1, weight=25, **step)
    at = step_power(alarm, baseline=0.001, delta=delta, weight=25, **step)[0]
    below = step_power(alarm, baseline=0.001, delta=delta - 2e-4, weight=25, **step)[0]
    assert at >= 0.9 > below


def test_min_exposure_rows_obey_alpha_and_beta():
    alarm = CountAlarm(threshold=1, evaluation_periods=1)
    table = min_exposure(
        alarm, rate=100, baseline=0.001, delta=0.01, alpha=0.01, beta=0.05, tune_threshold=True
    )
    feasible = table[table["feasible"]]
    assert len(feasible)
    assert (feasible["p_false"] <= 0.01).all() and (feasible["p_detect"] >= 0.95).all()
    assert feasible["exposure"].is_monotonic_increasing


# --------------------------------------------------------------------------------------------
# Against the simulator

SHORT = {
    "name": "short-canary",
    "duration": 540.0,
    "load": {"rps": 40, "pattern": "constant"},
    "service": {
        "tasks": 2,
        "cpu": 0.25,
        "memory": 0.5,
        "latency": {"distribution": "lognormal", "median": 0.02, "p99": 0.08},
        "error_rate": 0.01,
    },
    "deployment": {
        "controller": "codedeploy",
        "start": 60.0,
        "config": {"type": "TimeBasedCanary", "percentage": 25, "interval": 180},
        "termination_wait": 60.0,
        "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
        "alarms": ["a"],
    },
}


def _alarm(**kw):
    base = {
        "name": "a",
        "metric": "HTTPCode_Target_5XX_Count",
        "target_group": "green",
        "statistic": "Sum",
        "period": 60.0,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "threshold": 2,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    }
    return {**base, **kw}


# case → (alarm, green's error rate, blue's); each chosen so that P(detect) is far from 0 and 1
CASES = {
    "2 of 3, healthy": (_alarm(threshold=6), 0.01, 0.01),
    "2 of 3, +1 % errors": (_alarm(threshold=12), 0.02, 0.01),
    "1 of 1 missing, +0.2 % errors": (
        _alarm(
            evaluation_periods=1, datapoints_to_alarm=1, treat_missing_data="missing", threshold=8
        ),
        0.004,
        0.002,
    ),
    "error rate 2 of 2 ignore, +0.2 %": (
        {
            "name": "a",
            "expression": "100 * e / r",
            "metrics": {
                "e": {"metric": "HTTPCode_Target_5XX_Count", "target_group": "green"},
                "r": {"metric": "RequestCount", "target_group": "green"},
            },
            "period": 60.0,
            "evaluation_periods": 2,
            "datapoints_to_alarm": 2,
            "threshold": 0.5,
            "treat_missing_data": "ignore",
        },
        0.004,
        0.002,
    ),
}


RUNS = 80


@functools.cache
def _pilot_schedules() -> list[tuple[float, float, list]]:
    """Per seed: when polling starts and ends and green's weights, from a run whose alarm is
    not watched. Install times come from their own random streams, so they do not depend on
    the alarm or the error rates: one set of pilots serves every case."""
    from bluegreen_sim.analysis.analytic import _schedule

    raw = {**SHORT, "alarms": [_alarm()], "deployment": {**SHORT["deployment"], "alarms": []}}
    quiet = scenario_from_dict(raw)
    out = []
    for seed in range(RUNS):
        pilot = simulate(quiet, seed=seed)
        s = pilot.summary
        out.append((s["deployment_start_s"], s["deployment_end_s"], _schedule(pilot.timeline)))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_analysis_agrees_with_the_simulator(case):
    from bluegreen_sim.analysis.analytic import _traffic

    alarm_raw, green_error, blue_error = CASES[case]
    raw = {**SHORT, "alarms": [alarm_raw], "green": {"error_rate": green_error}}
    raw["service"] = {**SHORT["service"], "error_rate": blue_error}
    scenario = scenario_from_dict(raw)
    alarm = CountAlarm.from_spec(scenario.alarms[0])
    detected, probabilities = 0, []
    for seed, (first, last, schedule) in enumerate(_pilot_schedules()):
        s = simulate(scenario, seed=seed).summary
        detected += bool(s["outcome_reason"] and s["outcome_reason"].startswith("alarm"))
        det = detection(
            alarm,
            _traffic(alarm, schedule, 40.0, green_error, blue_error),
            horizon=scenario.duration,
            polls_from=first,
            polls_until=last - 1e-6,  # blue removal ends the polling before its own poll
        )
        probabilities.append(det.probability)
    expected = float(np.mean(probabilities))
    low, high = wilson99(detected, RUNS)
    assert 0.05 < expected < 0.95, "the case should not be trivially certain"
    assert low <= expected <= high, (case, detected, RUNS, expected)

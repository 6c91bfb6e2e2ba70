"""Contracts that mutation testing found untested (mutation/README.md), one rule per test.

Bad arguments to the public CloudWatch functions are refused with a message that starts with
the argument's name and lists the accepted values; the histogram's counts are integers.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from bluegreen_sim import evaluate_alarm
from bluegreen_sim.aws.cloudwatch import (
    ALARM_STATES,
    COMPARISONS,
    TREAT_MISSING,
    breaches,
    evaluation_range,
)
from bluegreen_sim.aws.statistics import (
    HIST_BUCKETS,
    HIST_EDGES,
    HIST_MIDPOINTS,
    STATISTICS,
    hist_bucket,
    hist_counts,
    hist_percentile,
    statistic_value,
)


def _listed(names) -> str:
    """The accepted values as the message lists them: comma-separated, in order."""
    return re.escape(", ".join(names))


GOOD = {"threshold": 1.0, "comparison": "GreaterThanThreshold", "evaluation_periods": 2}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"evaluation_periods": 0}, ValueError, r"^evaluation_periods must be at least 1"),
        ({"evaluation_periods": 1.0}, TypeError, r"^evaluation_periods must be an integer"),
        ({"datapoints_to_alarm": 0}, ValueError, r"^datapoints_to_alarm must be at least 1"),
        (
            {"treat_missing_data": "zero"},
            ValueError,
            rf"^treat_missing_data must be one of {_listed(TREAT_MISSING)}; ",
        ),
        (
            {"previous_state": "Alarm"},
            ValueError,
            rf"^previous_state must be one of {_listed(ALARM_STATES)}; ",
        ),
        (
            {"comparison": ">"},
            ValueError,
            rf"^comparison must be one of {_listed(COMPARISONS)}; ",
        ),
    ],
)
def test_evaluate_alarm_names_the_bad_argument_and_what_it_accepts(change, error, message):
    with pytest.raises(error, match=message):
        evaluate_alarm([None, None], **{**GOOD, **change})


def test_breaches_names_a_bad_comparison_and_the_accepted_ones():
    with pytest.raises(ValueError, match=rf"^comparison must be one of {_listed(COMPARISONS)}; "):
        breaches(2.0, 1.0, "GreaterThan")


def test_evaluation_range_names_its_argument():
    with pytest.raises(ValueError, match=r"^evaluation_periods must be at least 1"):
        evaluation_range(0)


def test_histogram_counts_are_int64():
    counts = hist_counts(np.array([0.0, 1.0, 1.0, 250.0]))
    assert counts.dtype == np.int64 and counts.shape == (HIST_BUCKETS,)
    assert counts.sum() == 4


def test_statistic_value_names_a_bad_statistic_and_the_accepted_ones():
    with pytest.raises(ValueError, match=rf"^stat must be one of {_listed(STATISTICS)} or a "):
        statistic_value("Mean", count=1, total=1.0, minimum=1.0, maximum=1.0)


@pytest.mark.parametrize("stat", ["Minimum", "Maximum"])
def test_an_extreme_that_was_not_tracked_is_no_datapoint(stat):
    # samples were counted but their extremes not kept: nothing to publish, not a crash
    assert statistic_value(stat, count=3, total=6.0, minimum=None, maximum=None) is None
    assert statistic_value(stat, count=3, total=6.0, minimum=1.0, maximum=3.0) == (
        1.0 if stat == "Minimum" else 3.0
    )


@pytest.mark.parametrize(("stat", "exact"), [("p0", 1.1179), ("p100", 3.0229)])
def test_p0_and_p100_are_the_exact_extremes_not_a_bucket_midpoint(stat, exact):
    # 1.1179 ms sits just above a bucket's lower edge and 3.0229 ms just below one's upper
    # edge: their buckets' midpoints lie inside [minimum, maximum], so clamping cannot help
    latency = np.array([1.1179, 2.0, 3.0229])
    hist = hist_counts(latency)
    args = {"count": 3, "total": float(latency.sum()), "minimum": 1.1179, "maximum": 3.0229}
    assert statistic_value(stat, hist=hist, **args) == exact
    # where the histogram alone would answer something else
    assert statistic_value(stat, hist=hist, **{**args, "minimum": None, "maximum": None}) != exact


@pytest.mark.parametrize("treat", ["missing", "ignore"])
def test_m_real_breaches_alarm_even_when_a_real_point_does_not_breach(treat):
    # N = 4 periods, one missing (rule 3: only the 3 real points count); 2 of them breach,
    # M = 2: ALARM, although a real point is fine.
    got = evaluate_alarm(
        [5.0, None, 0.0, 5.0],
        threshold=1.0,
        comparison="GreaterThanThreshold",
        evaluation_periods=4,
        datapoints_to_alarm=2,
        treat_missing_data=treat,
        previous_state="OK",
    )
    assert got == "ALARM"


def test_latencies_beyond_the_last_edge_go_to_the_top_bucket_even_infinite():
    top = HIST_BUCKETS - 1
    assert hist_bucket(np.array([4e7, 1e12, np.inf])).tolist() == [top, top, top]
    # and a histogram of them alone still has percentiles: the top bucket's midpoint
    assert hist_percentile(hist_counts(np.array([4e7, 5e7])), 0.5) == HIST_MIDPOINTS[top]


def test_a_zero_latency_is_bucket_0_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hist_bucket(np.array([0.0, 1.0]))[0] == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hist_bucket(np.array([1.0, np.nan])), r"^latency_ms must be >= 0 and not NaN$"),
        (lambda: hist_bucket(np.array([-1.0])), r"^latency_ms must be >= 0 and not NaN$"),
        (
            lambda: hist_percentile(np.full(HIST_BUCKETS, -1), 0.5),
            r"^counts must not be negative$",
        ),
        (
            lambda: hist_percentile(np.zeros(HIST_BUCKETS), 0.5),
            r"^counts holds no samples; a percentile is undefined$",
        ),
    ],
)
def test_histogram_errors_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_hist_bucket_agrees_with_a_binary_search_everywhere():
    # The documented rule: a latency goes into the bucket its highest edge <= it opens (a
    # binary search, side="right"); below the first edge bucket 1, beyond the last the top
    # one, exactly 0 bucket 0. Checked at, just below and just above every edge, and far out.
    edges = np.asarray(HIST_EDGES)
    near = np.concatenate((edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)))
    far = np.array([1e-300, 1e-9, 1e-4, 0.0099999, 1e9, 1e15, 1e300, np.inf])
    latency = np.concatenate((near, far))
    expected = np.clip(np.searchsorted(edges, latency, side="right"), 1, HIST_BUCKETS - 1)
    assert (hist_bucket(latency) == expected).all()
    assert hist_bucket(np.array([0.0]))[0] == 0

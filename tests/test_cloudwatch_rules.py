"""Exact tests of the CloudWatch alarm rules and statistics in bluegreen_sim.aws.cloudwatch.

Datapoint patterns are written as in the CloudWatch User Guide, oldest first:
``X`` breaching, ``0`` not breaching, ``-`` missing. Unless a test says
otherwise the alarm is "GreaterThanThreshold 1", so X is 5.0 and 0 is 0.0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluegreen_sim.aws.cloudwatch import (
    ALARM_STATES,
    COMPARISONS,
    STATISTICS,
    TREAT_MISSING,
    breaches,
    evaluate_alarm,
    evaluation_range,
)
from bluegreen_sim.aws.statistics import (
    HIST_BUCKETS,
    HIST_EDGES,
    HIST_MIDPOINTS,
    hist_bucket,
    hist_counts,
    hist_percentile,
    parse_extended_statistic,
    statistic_value,
)

RETAIN = "retain"  # the expected "state" where ignore keeps the previous state
_SYMBOL = {"X": 5.0, "0": 0.0, "-": None}


def points(pattern: str) -> list[float | None]:
    """Turn ``"0 - X"`` into ``[0.0, None, 5.0]``."""
    return [_SYMBOL[symbol] for symbol in pattern.split()]


def evaluate(pattern: str, m: int | None = None, n: int = 3, **kwargs: object) -> str:
    """Evaluate a pattern against the default alarm "GreaterThanThreshold 1"."""
    return evaluate_alarm(
        points(pattern),
        threshold=1.0,
        comparison="GreaterThanThreshold",
        evaluation_periods=n,
        datapoints_to_alarm=m,
        **kwargs,
    )


def assert_row(pattern: str, m: int, expected: dict[str, str]) -> None:
    """Check one row of an AWS-style table, one column per treat setting.

    Each cell is tried from every previous state, so "retain" can only pass
    if the state really is kept, and a fixed answer only if it does not
    depend on the previous state.
    """
    for treat, want in expected.items():
        for before in ALARM_STATES:
            got = evaluate(pattern, m, treat_missing_data=treat, previous_state=before)
            assert got == (before if want == RETAIN else want), (pattern, treat, before)


def columns(missing: str, ignore: str, breaching: str, not_breaching: str) -> dict[str, str]:
    """One table row's expected states, in the AWS table's column order."""
    return {
        "missing": missing,
        "ignore": ignore,
        "breaching": breaching,
        "notBreaching": not_breaching,
    }


# --------------------------------------------------------------------------
# AWS's documented tables (N = 3, range 5), rebuilt row by row
# --------------------------------------------------------------------------

# M = 3: the 2023 table, plus rows that only the 2018-2020 versions printed.
TABLE_3_OF_3 = [
    ("0 - X - X", columns("OK", "OK", "OK", "OK")),
    ("0 - - - -", columns("OK", "OK", "OK", "OK")),
    ("- - - - -", columns("INSUFFICIENT_DATA", RETAIN, "ALARM", "OK")),
    ("0 X X - X", columns("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - X - -", columns("ALARM", RETAIN, "ALARM", "OK")),
    ("- - - - X", columns("INSUFFICIENT_DATA", RETAIN, "ALARM", "OK")),
    ("X - - - -", columns("ALARM", RETAIN, "ALARM", "OK")),
]

# M = 2 of N = 3: the 2023 table, plus "- - - - X" from the 2018-2020 versions.
TABLE_2_OF_3 = [
    ("0 - X - X", columns("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", columns("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", columns("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", columns("OK", "OK", "ALARM", "OK")),
    ("- - - X -", columns("ALARM", RETAIN, "ALARM", "OK")),
    ("- - - - X", columns("INSUFFICIENT_DATA", RETAIN, "ALARM", "OK")),
]


@pytest.mark.parametrize(("pattern", "expected"), TABLE_3_OF_3)
def test_documented_table_3_of_3(pattern: str, expected: dict[str, str]) -> None:
    assert_row(pattern, 3, expected)


@pytest.mark.parametrize(("pattern", "expected"), TABLE_2_OF_3)
def test_documented_table_2_of_3(pattern: str, expected: dict[str, str]) -> None:
    assert_row(pattern, 2, expected)


# --------------------------------------------------------------------------
# Rule 1: no datapoint missing -> the N most recent only
# --------------------------------------------------------------------------


def test_full_range_uses_only_the_n_most_recent() -> None:
    # Three old breaches fall outside the last 3 periods and must not count.
    assert_row("X X 0 0 0", 3, columns("OK", "OK", "OK", "OK"))
    assert_row("0 0 X X X", 3, columns("ALARM", "ALARM", "ALARM", "ALARM"))


def test_datapoints_to_alarm_defaults_to_evaluation_periods() -> None:
    # With M defaulting to 1 this would alarm; AWS defaults M to N = 3.
    assert evaluate("0 0 0 X X") == "OK"
    assert evaluate("0 0 X X X") == "ALARM"


# --------------------------------------------------------------------------
# Rule 2: some missing but >= N real -> N most recent real, treat ignored
# --------------------------------------------------------------------------


def test_enough_real_points_reach_back_past_missing_ones() -> None:
    # The last 3 periods hold only one X; the 3 most recent *real* points are
    # X X X, so the alarm fires whatever the missing data setting says.
    assert_row("X X X - -", 3, columns("ALARM", "ALARM", "ALARM", "ALARM"))
    assert_row("X - X - X", 3, columns("ALARM", "ALARM", "ALARM", "ALARM"))


def test_enough_real_points_ignore_breaching_fill() -> None:
    # Treating the two trailing gaps as breaching would give X - - -> ALARM;
    # with 3 real points the setting is ignored and X X 0 stays OK.
    assert_row("X X 0 - -", 3, columns("OK", "OK", "OK", "OK"))


def test_enough_real_points_use_only_the_most_recent_real_ones() -> None:
    # 4 real points; the oldest X is the 4th most recent and must not count.
    assert_row("X 0 - X X", 3, columns("OK", "OK", "OK", "OK"))
    assert_row("0 X - X X", 3, columns("ALARM", "ALARM", "ALARM", "ALARM"))


# --------------------------------------------------------------------------
# Rule 3: fewer than N real -> fill with the setting, fewest fills possible
# --------------------------------------------------------------------------


def test_breaching_fills_only_the_missing_slots_needed() -> None:
    # One real 0 plus N - 1 = 2 breaching fills: 2 of 3 breach.
    assert evaluate("0 - - - -", 3, treat_missing_data="breaching") == "OK"
    assert evaluate("0 - - - -", 2, treat_missing_data="breaching") == "ALARM"


def test_not_breaching_counts_only_real_breaches() -> None:
    assert evaluate("- X - X -", 2, treat_missing_data="notBreaching") == "ALARM"
    assert evaluate("- X - X -", 3, treat_missing_data="notBreaching") == "OK"


def test_missing_and_ignore_alarm_when_real_breaches_reach_m() -> None:
    for treat in ("missing", "ignore"):
        assert evaluate("- X - 0 X", 2, treat_missing_data=treat) == "ALARM"


def test_missing_and_ignore_go_ok_on_a_non_breaching_real_point() -> None:
    for treat in ("missing", "ignore"):
        for before in ALARM_STATES:
            got = evaluate("X - 0 - -", 2, treat_missing_data=treat, previous_state=before)
            assert got == "OK"


def test_all_missing_for_each_setting() -> None:
    for before in ALARM_STATES:
        kwargs = {"previous_state": before}
        assert evaluate("- - - - -", treat_missing_data="missing", **kwargs) == (
            "INSUFFICIENT_DATA"
        )
        assert evaluate("- - - - -", treat_missing_data="ignore", **kwargs) == before
        assert evaluate("- - - - -", treat_missing_data="breaching", **kwargs) == "ALARM"
        assert evaluate("- - - - -", treat_missing_data="notBreaching", **kwargs) == "OK"


def test_default_treatment_is_missing() -> None:
    assert evaluate("- - - - -", previous_state="OK") == "INSUFFICIENT_DATA"


def test_range_shorter_than_n_counts_earlier_periods_as_missing() -> None:
    # A metric that has reported twice, both breaching, on a 3-of-3 alarm.
    assert evaluate("X X", 3, treat_missing_data="missing") == "INSUFFICIENT_DATA"
    assert evaluate("X X", 3, treat_missing_data="breaching") == "ALARM"
    assert evaluate("X X", 3, treat_missing_data="notBreaching") == "OK"
    assert evaluate("", 3, treat_missing_data="missing") == "INSUFFICIENT_DATA"
    assert evaluate("", 3, treat_missing_data="breaching") == "ALARM"


def test_nan_is_missing() -> None:
    nan_range = [math.nan, math.nan, 5.0, math.nan, math.nan]
    kwargs = {
        "threshold": 1.0,
        "comparison": "GreaterThanThreshold",
        "evaluation_periods": 3,
    }
    assert evaluate_alarm(nan_range, **kwargs) == "ALARM"  # as "- - X - -"
    assert evaluate_alarm([math.nan] * 5, **kwargs) == "INSUFFICIENT_DATA"


# --------------------------------------------------------------------------
# The premature-alarm rule
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "m"),
    [
        ("- - X - -", 3),  # the documented positive case
        ("- - - X -", 2),  # the documented M of N case
        ("- - X - X", 3),  # the oldest breach is 3 periods old
        ("X X - - -", 3),  # breaches older than N still count (2019 table)
        ("X - - - -", 3),
        ("- - - - X", 1),  # M = 1: one fresh breach is enough
    ],
)
def test_premature_alarm_fires(pattern: str, m: int) -> None:
    assert evaluate(pattern, m, treat_missing_data="missing") == "ALARM"


@pytest.mark.parametrize(
    ("pattern", "m"),
    [
        ("- - - - X", 3),  # documented: does not go immediately into ALARM
        ("- - - X -", 3),  # documented: does not go immediately into ALARM
        ("- - - X X", 3),  # oldest breach only 2 periods old
        ("- - - - X", 2),
    ],
)
def test_premature_alarm_waits_on_fresh_breaches(pattern: str, m: int) -> None:
    assert evaluate(pattern, m, treat_missing_data="missing") == "INSUFFICIENT_DATA"


def test_premature_alarm_blocked_by_any_non_breaching_real_point() -> None:
    # The X is old enough, but an older real 0 exists: AWS's 2-of-3 table
    # gives OK for "0 - X - -", so the rule needs every real point breaching.
    assert evaluate("0 - X - -", 2, treat_missing_data="missing") == "OK"
    assert evaluate("0 X - - -", 2, treat_missing_data="missing") == "OK"


def test_premature_alarm_keeps_state_under_ignore() -> None:
    for before in ALARM_STATES:
        got = evaluate("- - X - -", 3, treat_missing_data="ignore", previous_state=before)
        assert got == before


def test_premature_alarm_rule_does_not_apply_to_not_breaching() -> None:
    assert evaluate("- - X - -", 3, treat_missing_data="notBreaching") == "OK"


# --------------------------------------------------------------------------
# M out of N
# --------------------------------------------------------------------------


def test_m_of_n_counts_non_consecutive_breaches_in_the_last_n() -> None:
    n, m = 5, 3
    assert evaluation_range(n) == 7
    # Breaches at ages 5, 3 and 1: all inside the last 5 periods.
    assert evaluate("0 0 X 0 X 0 X", m, n) == "ALARM"
    # Breaches at ages 6, 4 and 1: the oldest lies outside the last 5.
    assert evaluate("0 X 0 X 0 0 X", m, n) == "OK"


def test_m_of_n_one_short() -> None:
    assert evaluate("0 0 X 0 0", 2) == "OK"
    assert evaluate("0 0 X X 0", 2) == "ALARM"


# --------------------------------------------------------------------------
# Comparison operators
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparison", "below", "at", "above"),
    [
        ("GreaterThanThreshold", False, False, True),
        ("GreaterThanOrEqualToThreshold", False, True, True),
        ("LessThanThreshold", True, False, False),
        ("LessThanOrEqualToThreshold", True, True, False),
    ],
)
def test_comparison_at_threshold_boundary(
    comparison: str, below: bool, at: bool, above: bool
) -> None:
    threshold = 10.0
    assert breaches(math.nextafter(threshold, -math.inf), threshold, comparison) is below
    assert breaches(threshold, threshold, comparison) is at
    assert breaches(math.nextafter(threshold, math.inf), threshold, comparison) is above


def test_less_than_alarm_on_healthy_hosts() -> None:
    # HealthyHostCount Minimum < 1 for 2 of 2 periods.
    kwargs = {
        "threshold": 1,
        "comparison": "LessThanThreshold",
        "evaluation_periods": 2,
    }
    assert evaluate_alarm([2, 1, 0, 0], **kwargs) == "ALARM"
    assert evaluate_alarm([2, 0, 0, 1], **kwargs) == "OK"


def test_comparisons_constant_lists_the_four_operators() -> None:
    assert set(COMPARISONS) == {
        "GreaterThanThreshold",
        "GreaterThanOrEqualToThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    }
    assert set(TREAT_MISSING) == {"missing", "ignore", "breaching", "notBreaching"}
    assert set(ALARM_STATES) == {"OK", "ALARM", "INSUFFICIENT_DATA"}


# --------------------------------------------------------------------------
# Evaluation range and argument validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), [(1, 3), (2, 4), (3, 5), (5, 7), (6, 8), (9, 12)])
def test_evaluation_range(n: int, expected: int) -> None:
    assert evaluation_range(n) == expected


@pytest.mark.parametrize("bad", [0, -1])
def test_evaluation_range_rejects_n_below_one(bad: int) -> None:
    with pytest.raises(ValueError, match="evaluation_periods"):
        evaluation_range(bad)


@pytest.mark.parametrize("bad", [2.0, True, None, "3"])
def test_evaluation_range_rejects_non_integer_n(bad: object) -> None:
    with pytest.raises(TypeError, match="evaluation_periods"):
        evaluation_range(bad)  # type: ignore[arg-type]


_GOOD = {
    "threshold": 1.0,
    "comparison": "GreaterThanThreshold",
    "evaluation_periods": 3,
    "datapoints_to_alarm": 2,
    "treat_missing_data": "missing",
    "previous_state": "OK",
}


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("comparison", "GreaterThan"),
        ("comparison", "LessThanLowerOrGreaterThanUpperThreshold"),
        ("treat_missing_data", "notbreaching"),
        ("treat_missing_data", None),
        ("datapoints_to_alarm", 4),
        ("datapoints_to_alarm", 0),
        ("evaluation_periods", 0),
        ("evaluation_periods", -3),
        ("previous_state", "PENDING"),
    ],
)
def test_evaluate_alarm_validates_arguments(argument: str, value: object) -> None:
    kwargs = {**_GOOD, argument: value}
    if argument == "evaluation_periods":
        kwargs["datapoints_to_alarm"] = None  # isolate the N check from M > N
    with pytest.raises(ValueError, match=argument):
        # All missing: the bad comparison must fail without any comparison.
        evaluate_alarm([None] * 5, **kwargs)  # type: ignore[arg-type]
    evaluate_alarm([None] * 5, **_GOOD)  # the unchanged arguments are fine


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("evaluation_periods", 1.5),
        ("datapoints_to_alarm", 2.0),
        ("datapoints_to_alarm", True),
    ],
)
def test_evaluate_alarm_rejects_non_integer_counts(argument: str, value: object) -> None:
    kwargs = {**_GOOD, argument: value}
    if argument == "evaluation_periods":
        kwargs["datapoints_to_alarm"] = None
    with pytest.raises(TypeError, match=argument):
        evaluate_alarm([None] * 5, **kwargs)  # type: ignore[arg-type]


def test_m_greater_than_n_message_names_both() -> None:
    with pytest.raises(ValueError, match=r"datapoints_to_alarm.*evaluation_periods"):
        evaluate("X X X", 4, 3)


def test_breaches_rejects_unknown_comparison() -> None:
    with pytest.raises(ValueError, match="comparison"):
        breaches(1.0, 0.0, ">")


# --------------------------------------------------------------------------
# Property tests of the alarm rules
# --------------------------------------------------------------------------

datapoint = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0]))
real_datapoint = st.sampled_from([0.0, 1.0, 2.0])


@st.composite
def alarms(draw: st.DrawFn, values: st.SearchStrategy = datapoint) -> dict:
    n = draw(st.integers(1, 8))
    return {
        "values": draw(st.lists(values, max_size=evaluation_range(n) + 2)),
        "threshold": 1.0,
        "comparison": draw(st.sampled_from(COMPARISONS)),
        "evaluation_periods": n,
        "datapoints_to_alarm": draw(st.integers(1, n)),
        "treat_missing_data": draw(st.sampled_from(TREAT_MISSING)),
        "previous_state": draw(st.sampled_from(ALARM_STATES)),
    }


@given(alarms())
def test_state_is_always_one_of_three(alarm: dict) -> None:
    values = alarm.pop("values")
    assert evaluate_alarm(values, **alarm) in ALARM_STATES


@given(alarms(values=real_datapoint))
def test_without_missing_points_it_is_m_of_last_n(alarm: dict) -> None:
    values = alarm.pop("values")
    n, m = alarm["evaluation_periods"], alarm["datapoints_to_alarm"]
    if len(values) < n:
        values = [0.0] * (n - len(values)) + values
    last_n = values[-n:]
    hits = sum(breaches(v, alarm["threshold"], alarm["comparison"]) for v in last_n)
    expected = "ALARM" if hits >= m else "OK"
    assert evaluate_alarm(values, **alarm) == expected


@given(alarms())
def test_with_n_real_points_the_setting_and_state_do_not_matter(alarm: dict) -> None:
    values = alarm.pop("values")
    if sum(v is not None for v in values) < alarm["evaluation_periods"]:
        values = values + [0.0] * alarm["evaluation_periods"]
    results = {
        evaluate_alarm(values, **{**alarm, "treat_missing_data": t, "previous_state": s})
        for t in TREAT_MISSING
        for s in ALARM_STATES
    }
    assert len(results) == 1
    assert results <= {"OK", "ALARM"}


@given(alarms())
def test_alarm_is_monotone_in_how_missing_data_is_treated(alarm: dict) -> None:
    # notBreaching alarms => missing alarms => breaching alarms: treating a
    # gap as worse can never calm the alarm down.
    values = alarm.pop("values")
    alarm.pop("treat_missing_data")

    def alarming(treat: str) -> bool:
        return evaluate_alarm(values, treat_missing_data=treat, **alarm) == "ALARM"

    if alarming("notBreaching"):
        assert alarming("missing")
    if alarming("missing"):
        assert alarming("breaching")


# --------------------------------------------------------------------------
# Histograms
# --------------------------------------------------------------------------


def test_hist_edges_layout() -> None:
    assert HIST_EDGES[0] == pytest.approx(0.01)
    assert HIST_EDGES[-1] >= 10 * 3600 * 1000
    assert HIST_EDGES[-2] < 10 * 3600 * 1000  # no edge wasted beyond 10 h
    np.testing.assert_allclose(HIST_EDGES[1:] / HIST_EDGES[:-1], 1.01)
    assert HIST_BUCKETS == HIST_EDGES.size == HIST_MIDPOINTS.size


def test_hist_bucket_special_values() -> None:
    got = hist_bucket(np.array([0.0, 0.001, HIST_EDGES[0], HIST_EDGES[5], 1e12]))
    assert got.tolist() == [0, 1, 1, 6, HIST_BUCKETS - 1]
    assert np.issubdtype(got.dtype, np.integer)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_hist_bucket_rejects_negative_and_nan(bad: float) -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        hist_bucket(np.array([1.0, bad]))


@given(st.floats(min_value=0.01, max_value=3.5e7))
def test_hist_bucket_contains_the_value(latency: float) -> None:
    index = int(hist_bucket(np.array([latency]))[0])
    assert HIST_EDGES[index - 1] <= latency < HIST_EDGES[index]
    # The geometric midpoint is within sqrt(1.01) - 1 (about 0.5 %) of any
    # value in its bucket; the bucket's upper edge would only make 1 %.
    bound = (math.sqrt(1.01) - 1.0) * (1.0 + 1e-9)
    assert abs(HIST_MIDPOINTS[index] - latency) <= bound * latency


def nearest_rank(sample: np.ndarray, per_ten_thousand: int) -> float:
    """Exact nearest-rank percentile of ``sample`` at ``per_ten_thousand`` / 10000.

    The rank ceil(q * n) is computed in integers on numpy's sorted sample.
    ``np.percentile(..., method="inverted_cdf")`` is the same definition but
    forms q * n in floating point, so it lands one rank high on exact
    boundaries (p99.9 of 1..1000 gives 1000, not 999).
    """
    rank = max(1, -(-per_ten_thousand * sample.size // 10000))
    return float(np.sort(sample)[rank - 1])


def test_nearest_rank_reference_agrees_with_numpy_off_the_boundaries() -> None:
    sample = np.random.default_rng(3).lognormal(0.0, 1.0, 997)  # 997 is prime
    for k in (0, 1, 5000, 9000, 9900, 9990, 10000):
        expected = float(np.percentile(sample, k / 100, method="inverted_cdf"))
        assert nearest_rank(sample, k) == expected
    assert nearest_rank(np.arange(1.0, 1001.0), 9990) == 999.0


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    # Multiples of 1000 put q * n exactly on a rank for p99.9-style q.
    size=st.one_of(st.integers(1, 3000), st.sampled_from([10, 100, 1000, 2000, 5000, 10000])),
    sigma=st.floats(0.05, 1.5),
    median_ms=st.floats(0.5, 2000.0),
    # q as CloudWatch names it, p0.00 .. p100.00, parsed the way the simulator does.
    per_ten_thousand=st.one_of(
        st.sampled_from([0, 5000, 9000, 9900, 9990, 9999, 10000]), st.integers(0, 10000)
    ),
)
def test_hist_percentile_within_one_percent_of_exact(
    seed: int, size: int, sigma: float, median_ms: float, per_ten_thousand: int
) -> None:
    rng = np.random.default_rng(seed)
    latency = rng.lognormal(math.log(median_ms), sigma, size)
    latency = np.clip(latency, 0.01, 3.5e7)  # the range the 1 % holds for
    whole, frac = divmod(per_ten_thousand, 100)
    q = parse_extended_statistic(f"p{whole}.{frac:02d}")
    exact = nearest_rank(latency, per_ten_thousand)
    approx = hist_percentile(hist_counts(latency), q)
    assert abs(approx - exact) <= 0.01 * exact


@given(
    st.lists(st.floats(0.0, 1e6), max_size=200),
    st.lists(st.floats(0.0, 1e6), max_size=200),
)
def test_histograms_merge_by_adding_counts(first: list[float], second: list[float]) -> None:
    merged = hist_counts(np.array(first)) + hist_counts(np.array(second))
    together = hist_counts(np.array(first + second))
    np.testing.assert_array_equal(merged, together)
    assert together.sum() == len(first) + len(second)


def test_hist_percentile_nearest_rank_on_a_small_sample() -> None:
    counts = hist_counts(np.array([10.0, 20.0, 30.0, 40.0]))
    # Nearest rank: ceil(q * 4)-th smallest.
    assert hist_percentile(counts, 0.25) == pytest.approx(10.0, rel=0.01)
    assert hist_percentile(counts, 0.26) == pytest.approx(20.0, rel=0.01)
    assert hist_percentile(counts, 0.75) == pytest.approx(30.0, rel=0.01)
    assert hist_percentile(counts, 0.0) == pytest.approx(10.0, rel=0.01)
    assert hist_percentile(counts, 1.0) == pytest.approx(40.0, rel=0.01)


def test_hist_percentile_rounding_of_q_times_n() -> None:
    # In floating point 0.0051 * 10000 is 51.00000000000001; the nearest rank
    # is still 51, not 52. Values 1..10000 ms sit 2 % apart around rank 51,
    # so rank 52 would miss by more than the histogram's 0.5 %.
    counts = hist_counts(np.arange(1.0, 10001.0))
    for name, rank in (("p0.51", 51), ("p0.61", 61), ("p99.9", 9990)):
        got = hist_percentile(counts, parse_extended_statistic(name))
        assert got == pytest.approx(float(rank), rel=0.005), name
    assert hist_percentile(hist_counts(np.zeros(3)), 0.5) == 0.0


@pytest.mark.parametrize(
    ("counts", "q", "match"),
    [
        (np.zeros(HIST_BUCKETS, dtype=int), 0.5, "no samples"),
        (np.ones(HIST_BUCKETS, dtype=int), 1.5, "q"),
        (np.ones(HIST_BUCKETS, dtype=int), -0.1, "q"),
        (np.ones(10, dtype=int), 0.5, "shape"),
        (-np.ones(HIST_BUCKETS, dtype=int), 0.5, "negative"),
    ],
)
def test_hist_percentile_rejects_bad_input(counts: np.ndarray, q: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hist_percentile(counts, q)


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p99.9", 0.999),
        ("p99", 0.99),
        ("p50", 0.5),
        ("p0", 0.0),
        ("p100", 1.0),
        ("p99.99", 0.9999),
    ],
)
def test_parse_extended_statistic(name: str, expected: float) -> None:
    assert parse_extended_statistic(name) == expected


@pytest.mark.parametrize(
    "bad",
    ["p101", "p100.01", "99", "p", "p-1", "p99.", "p99.999", "tm90", "P99", " p99", 99],
)
def test_parse_extended_statistic_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="extended statistic"):
        parse_extended_statistic(bad)  # type: ignore[arg-type]


_AGG = {"count": 4, "total": 100.0, "minimum": 10.0, "maximum": 40.0}


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("SampleCount", 4.0),
        ("Sum", 100.0),
        ("Average", 25.0),
        ("Minimum", 10.0),
        ("Maximum", 40.0),
    ],
)
def test_simple_statistics(stat: str, expected: float) -> None:
    assert statistic_value(stat, **_AGG) == expected


def test_statistics_constant() -> None:
    assert STATISTICS == ("SampleCount", "Sum", "Average", "Minimum", "Maximum")


@pytest.mark.parametrize("stat", [*STATISTICS, "p99"])
def test_empty_period_is_a_missing_datapoint(stat: str) -> None:
    empty = {"count": 0, "total": 0.0, "minimum": None, "maximum": None}
    assert statistic_value(stat, hist=np.zeros(HIST_BUCKETS, dtype=int), **empty) is None


def test_percentile_statistic_from_histogram() -> None:
    rng = np.random.default_rng(7)
    latency = rng.lognormal(math.log(80.0), 0.6, 5000)
    aggregates = {
        "count": latency.size,
        "total": float(latency.sum()),
        "minimum": float(latency.min()),
        "maximum": float(latency.max()),
        "hist": hist_counts(latency),
    }
    exact = nearest_rank(latency, 9990)
    assert statistic_value("p99.9", **aggregates) == pytest.approx(exact, rel=0.01)
    # The extremes are exact, not bucket midpoints.
    assert statistic_value("p0", **aggregates) == latency.min()
    assert statistic_value("p100", **aggregates) == latency.max()


def test_percentile_in_seconds_with_hist_scale() -> None:
    latency_ms = np.array([100.0, 200.0, 300.0])
    value = statistic_value(
        "p50",
        count=3,
        total=0.6,
        minimum=0.1,
        maximum=0.3,
        hist=hist_counts(latency_ms),
        hist_scale=0.001,
    )
    assert value == pytest.approx(0.2, rel=0.01)


@pytest.mark.parametrize("position", [0.001, 0.009])
def test_percentile_is_clamped_to_min_and_max(position: float) -> None:
    # One sample low in its bucket (midpoint above it) and one high in its
    # bucket (midpoint below it): min and max are exact, so both clamp.
    sample = float(HIST_EDGES[500] * (1.0 + position))
    counts = hist_counts(np.array([sample]))
    assert HIST_MIDPOINTS[hist_bucket(np.array([sample]))[0]] != sample
    value = statistic_value(
        "p50", count=1, total=sample, minimum=sample, maximum=sample, hist=counts
    )
    assert value == sample


def test_percentile_needs_a_histogram() -> None:
    with pytest.raises(ValueError, match="hist"):
        statistic_value("p99", **_AGG)


@pytest.mark.parametrize("bad", ["Median", "average", "tm99", "p101"])
def test_unknown_statistic(bad: str) -> None:
    with pytest.raises(ValueError, match="stat"):
        statistic_value(bad, **_AGG)
    # Also with no samples: a misspelt statistic must not hide behind None.
    with pytest.raises(ValueError, match="stat"):
        statistic_value(bad, count=0, total=0.0, minimum=None, maximum=None)

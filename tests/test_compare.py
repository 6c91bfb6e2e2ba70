"""Comparing variants: common random numbers, the confidence intervals, refusing bad variants."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from bluegreen_sim.analysis.compare import (
    FIGURES_OF_MERIT,
    compare,
    comparison_table,
    format_comparison,
    mean_interval,
    plot_comparison,
    t_quantile,
    wilson_interval,
)
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict

# The module, not the function that ``bluegreen_sim`` exports under the same name.
cmp = importlib.import_module("bluegreen_sim.analysis.compare")

RAW = {
    "name": "tiny-compare",
    "duration": "5m",
    "load": {"rps": 25},
    "service": {
        "tasks": 2,
        "startup": {"distribution": "constant", "value": "15s"},
        "latency": {"distribution": "lognormal", "median": "30ms", "p99": "120ms"},
    },
    "green": {"error_rate": 0.15},
    "load_balancer": {
        "deregistration_delay": "10s",
        "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
    },
    "alarms": [
        {
            "name": "green-5xx",
            "metric": "HTTPCode_Target_5XX_Count",
            "target_group": "green",
            "statistic": "Sum",
            "period": "60s",  # ALB metrics are 60-second metrics
            "evaluation_periods": 1,
            "threshold": 2,
            "comparison": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        }
    ],
    "deployment": {
        "controller": "steps",
        "start": "30s",
        "alarms": ["green-5xx"],
        "steps": [{"weight": 10, "pause": "90s"}, {"weight": 50, "pause": "90s"}, {"weight": 100}],
    },
}
SEEDS = range(6)
VARIANTS = {"bad green": {}, "good green": ["green.error_rate=0"]}


@pytest.fixture(scope="module")
def scenario():
    return scenario_from_dict(RAW)


@pytest.fixture(scope="module")
def runs(scenario):
    return compare(scenario, VARIANTS, seeds=SEEDS)


def test_one_row_per_variant_and_seed(runs):
    assert len(runs) == len(VARIANTS) * len(SEEDS)
    assert list(runs.columns[:2]) == ["variant", "seed"]
    assert list(runs["variant"]) == ["bad green"] * 6 + ["good green"] * 6
    assert list(runs["seed"]) == list(SEEDS) * 2
    for key in [*FIGURES_OF_MERIT, "outcome"]:
        assert key in runs


def test_common_random_numbers(runs):
    bad = runs[runs.variant == "bad green"].set_index("seed")
    good = runs[runs.variant == "good green"].set_index("seed")
    # Only green's error rate differs, so every seed sees the same arrivals in both variants...
    assert (bad.requests_total == good.requests_total).all()
    # ... while the seeds differ from each other (the equality above is not a constant),
    assert bad.requests_total.nunique() > 1
    # ... and the variants really differ.
    assert (bad.requests_failed > 0).all() and (good.requests_failed == 0).all()
    assert set(bad.outcome) == {"ROLLED_BACK"} and set(good.outcome) == {"SUCCEEDED"}


def test_table_means_and_intervals(runs):
    table = comparison_table(runs)
    assert list(table.index) == ["bad green", "good green"]
    bad = runs[runs.variant == "bad green"]
    failed = bad.requests_failed.to_numpy(dtype=float)
    row = table.loc["bad green"]
    assert row[("requests_failed", "mean")] == pytest.approx(failed.mean())
    assert row[("requests_failed", "n")] == 6
    assert row[("requests_failed", "lo")] < failed.mean() < row[("requests_failed", "hi")]
    half = t_quantile(0.975, 5) * failed.std(ddof=1) / math.sqrt(6)
    assert row[("requests_failed", "hi")] - failed.mean() == pytest.approx(half)
    for key in FIGURES_OF_MERIT:
        mean, lo, hi = (row[(key, s)] for s in ("mean", "lo", "hi"))
        assert lo <= mean <= hi
    assert row[("rolled_back", "mean")] == 1.0
    assert table.loc["good green", ("rolled_back", "mean")] == 0.0
    # Nothing was detected with a healthy green: no time to detect, and no interval.
    assert table.loc["good green", ("time_to_detect_s", "n")] == 0
    assert np.isnan(table.loc["good green", ("time_to_detect_s", "mean")])


def test_format_names_every_variant_and_figure(runs):
    text = format_comparison(runs)
    for name in VARIANTS:
        assert name in text
    for title in FIGURES_OF_MERIT.values():
        assert title in text
    assert "100% (6/6)" in text and "0% (0/6)" in text
    mean = runs[runs.variant == "bad green"].requests_failed.mean()
    assert f"{mean:.1f} [" in text or f"{mean:,.0f} [" in text
    assert format_comparison(comparison_table(runs)) == text


def test_plot_has_one_panel_per_figure(runs, tmp_path):
    fig = plot_comparison(runs)
    labels = [ax.get_label() for ax in fig.axes if ax.get_visible()]
    assert labels == [*FIGURES_OF_MERIT, "rolled_back"]
    fig.savefig(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_variant_refused_before_any_run(scenario, monkeypatch):
    calls = []
    monkeypatch.setattr(cmp, "_run", lambda sc, seed: calls.append(seed) or {})
    with pytest.raises(ScenarioError, match=r"variant 'too many errors'.*green\.error_rate"):
        compare(scenario, {"fine": {}, "too many errors": {"green.error_rate": 2}}, seeds=[0])
    with pytest.raises(ScenarioError, match=r"variant 'typo'.*green\.eror_rate"):
        compare(scenario, {"fine": {}, "typo": ["green.eror_rate=0.1"]}, seeds=[0])
    with pytest.raises(ScenarioError, match="variant 'no value'"):
        compare(scenario, {"fine": {}, "no value": ["green.error_rate"]}, seeds=[0])
    assert calls == []


def test_scenario_from_a_file_and_parallel_workers_agree(scenario, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(RAW))
    variants = {"linear": {}, "all at once": {"deployment.steps": [{"weight": 100}]}}
    serial = compare(scenario, variants, seeds=[3, 4])
    parallel = compare(path, variants, seeds=[3, 4], workers=2)
    pd.testing.assert_frame_equal(serial, parallel)


# -- the statistics, exactly ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (9, 2.2622), (30, 2.0423), (1000, 1.9623)],
)
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_other_levels():
    assert t_quantile(0.95, 10) == pytest.approx(1.8125, abs=1e-4)
    assert t_quantile(0.995, 4) == pytest.approx(4.6041, abs=1e-4)


def test_mean_interval_and_wilson():
    _, mean, lo, hi = mean_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (mean, lo, hi) == pytest.approx((3.0, 1.03676, 4.96324), abs=1e-5)
    assert mean_interval(np.array([7.0]))[:2] == (1, 7.0)
    assert all(np.isnan(mean_interval(np.array([7.0]))[2:]))
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)


# -- a comparison reads well in a notebook (issue 10, item 6) ---------------------------------


def test_compare_returns_runs_that_display_as_the_table(runs):
    assert isinstance(runs, cmp.Comparison) and isinstance(runs, pd.DataFrame)
    raw = runs.runs
    assert type(raw) is pd.DataFrame and raw.equals(pd.DataFrame(runs))
    assert type(runs[runs.variant == "bad green"]) is pd.DataFrame  # selections are plain
    html = runs._repr_html_()
    assert html.startswith('<table class="bluegreen-comparison">')
    assert "<th>bad green</th><th>good green</th>" in html
    table = comparison_table(runs)
    lo, hi = (table.loc["bad green", ("requests_failed", s)] for s in ("lo", "hi"))
    assert f"[{cmp._num(lo)}, {cmp._num(hi)}]" in html  # the interval, not only the mean
    assert "100%</b> <small>(6/6)" in html and ".runs" in html
    assert str(runs) == format_comparison(raw)
    assert runs.table.equals(table)


def test_cost_and_count_axes_start_at_zero(runs):
    fig = plot_comparison(runs)
    panels = {ax.get_label(): ax for ax in fig.axes if ax.get_visible()}
    for key in ("cost_usd", "requests_failed", "peak_tasks", "deployment_duration_s"):
        lo, hi = panels[key].get_xlim()
        assert lo == 0 and hi > 0, key

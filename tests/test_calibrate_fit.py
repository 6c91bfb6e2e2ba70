"""The fit recovers what a generated log was made of, within tolerances from sampling theory.

The log (``synthetic.SyntheticTraffic``): Poisson arrivals at 50 req/s for 20 minutes, service
times lognormal with median 80 ms and sigma 0.5, 1 % target 5XX, 0.5 % ELB 502 (the target never
answered: ``-1`` times), two target groups weighted 90/10, 4 targets each, 200 clients. Each
tolerance is 4 standard errors of the estimate (a false failure about once in 16,000 runs), the
standard error stated next to it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bluegreen_sim import calibrate, load_scenario, simulate
from bluegreen_sim.cli import main
from bluegreen_sim.interop.logs.fit import (
    concurrency_for,
    dispersion,
    erlang_c,
    fit_diurnal,
    quantile_interval,
    rate_trace,
)
from bluegreen_sim.interop.logs.synthetic import SyntheticTraffic, write_log

RPS, DURATION, MEDIAN, SIGMA, P5XX, P502 = 50.0, 1200.0, 0.080, 0.5, 0.01, 0.005
TRUTH = SyntheticTraffic(
    rps=RPS,
    duration=DURATION,
    median_s=MEDIAN,
    sigma=SIGMA,
    target_5xx=P5XX,
    elb_502=P502,
    groups={"blue-tg": 0.9, "green-tg": 0.1},
    targets_per_group=4,
    clients=200,
    seed=11,
)
SCENARIOS = Path(__file__).parent.parent / "scenarios"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[dict, object, Path]:
    folder = tmp_path_factory.mktemp("calibrate")
    log = folder / "known.log.gz"
    write_log(log, TRUTH)
    workload, report = calibrate([log], out=folder / "workload.yaml", progress=False)
    return workload, report, folder


def test_the_rate_is_recovered(fitted) -> None:
    workload, report, _ = fitted
    se = math.sqrt(RPS / DURATION)  # Poisson count over the span
    assert abs(report.arrivals["mean_rps"] - RPS) < 4 * se
    assert workload["load"]["pattern"] == "trace"
    # rows of 5 s: the narrowest with >= 100 requests a row at 50 req/s
    assert report.arrivals["trace_width_s"] == 5
    assert report.trace["rps"].mean() == pytest.approx(report.arrivals["mean_rps"], rel=1e-3)


def test_arrivals_are_found_poisson(fitted) -> None:
    _, report, _ = fitted
    d = report.arrivals["dispersion"]
    assert d["minutes"] == 20  # arrivals from 10:00:00 to 10:19:59
    assert abs(d["z"]) < 4, d
    assert d["verdict"].startswith("consistent with Poisson")


def test_clients_are_counted_by_ip(fitted) -> None:
    _, report, _ = fitted
    c = report.arrivals["clients"]
    assert c["clients"] == 200
    n = report.sources["entries"]
    assert c["requests_per_client_mean"] == pytest.approx(n / 200, rel=1e-3)


def test_the_service_time_is_lognormal_with_its_parameters(fitted) -> None:
    _, report, _ = fitted
    fits = report.service["fits"]
    assert fits["best"] == "lognormal"
    ln = fits["fits"]["lognormal"]
    n = fits["n_fitted"]
    # maximum likelihood: SE of log(median) is sigma/sqrt(n), of sigma is sigma/sqrt(2n)
    assert abs(math.log(ln["median_s"] / MEDIAN)) < 4 * SIGMA / math.sqrt(n)
    assert abs(ln["sigma"] - SIGMA) < 4 * SIGMA / math.sqrt(2 * n)
    # the KS distance of the right family is of the order of its sampling noise
    assert ln["D"] < 3 * fits["D_expected"]
    assert fits["fits"]["weibull"]["D"] > 5 * fits["D_expected"]


def test_the_empirical_latency_file_holds_the_observed_distribution(fitted) -> None:
    workload, report, folder = fitted
    assert workload["service"]["latency"] == {
        "distribution": "empirical",
        "file": "workload.latency.csv",
    }
    values = pd.read_csv(folder / "workload.latency.csv")["latency_ms"].to_numpy()
    assert len(values) == 2000
    # the median of n lognormal draws: SE = 1.2533 sigma / sqrt(n) in log terms
    n = report.service["n"]
    assert abs(math.log(np.median(values) / 1000 / MEDIAN)) < 4 * 1.2533 * SIGMA / math.sqrt(n)


def test_errors_per_target_group(fitted) -> None:
    workload, report, _ = fitted
    blue, green = report.errors["blue-tg"], report.errors["green-tg"]
    n = blue["requests"] + green["requests"]
    assert abs(blue["share"] - 0.9) < 4 * math.sqrt(0.09 / n)
    for e in (blue, green):
        answered = e["requests"] * (1 - P502)
        assert abs(e["target_5xx"][0] - P5XX) < 4 * math.sqrt(P5XX * (1 - P5XX) / answered)
        assert abs(e["elb_502"][0] - P502) < 4 * math.sqrt(P502 * (1 - P502) / e["requests"])
        assert e["target_5xx"][1] < e["target_5xx"][0] < e["target_5xx"][2]
        assert e["elb_503"][0] == 0 and e["elb_504"][0] == 0
    # the workload's error rate is the busiest group's target 5XX rate
    assert workload["service"]["error_rate"] == pytest.approx(blue["target_5xx"][0], abs=1e-6)


def test_targets_seen(fitted) -> None:
    workload, report, _ = fitted
    assert report.targets["blue-tg"]["targets"] == 4
    assert report.targets["green-tg"]["targets"] == 4
    assert workload["service"]["tasks"] == 4


def test_the_utilisation_the_workload_assumes_is_stated(fitted) -> None:
    workload, report, _ = fitted
    u = report.service["utilisation"]
    mean_s = MEDIAN * math.exp(SIGMA**2 / 2)
    assert u["mean_s"] == pytest.approx(mean_s, rel=0.03)
    assert u["load_per_task"] == pytest.approx(RPS * 0.9 / 4 * mean_s, rel=0.05)
    assert workload["service"]["concurrency"] == u["concurrency"]
    assert u["p_wait"] <= 0.01
    assert any("includes any queueing" in n for n in report.notes)
    assert "utilisation" in str(report)


def test_the_workload_is_a_valid_scenario_and_merges_into_one(fitted, tmp_path, capsys) -> None:
    workload, _, folder = fitted
    assert main(["validate", str(folder / "workload.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    # merged into a lesson: its load and service replaced, its deployment kept
    raw = yaml.safe_load((SCENARIOS / "02-canary-healthy.yaml").read_text())
    raw["load"] = workload["load"]
    raw["service"] = {**raw.get("service", {}), **workload["service"]}
    merged = folder / "merged.yaml"
    merged.write_text(yaml.safe_dump(raw))
    sc = load_scenario(merged, overrides={"duration": 300})  # the deployment starts at 2 min
    assert sc.load.pattern == "trace" and sc.service.tasks == 4
    result = simulate(load_scenario(folder / "workload.yaml", overrides={"duration": 60}), seed=1)
    assert abs(result.summary["requests_total"] / 60 - RPS) < 4 * math.sqrt(RPS / 60) + 2


def test_check_agrees_with_its_own_truth(tmp_path: Path) -> None:
    log = tmp_path / "short.log"
    write_log(log, SyntheticTraffic(rps=40, duration=300, target_5xx=0.02, seed=12))
    png = tmp_path / "check.png"
    _, report = calibrate([log], check=True, check_seeds=3, plot=png, progress=False)
    rows = report.check["rows"]
    for name in ("rate (req/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "target 5XX rate"):
        assert rows[name]["verdict"] == "agrees", (name, rows[name])
    assert png.stat().st_size > 10_000
    assert "Check:" in str(report)


def test_the_command_writes_the_workload_and_the_check(tmp_path: Path, capsys) -> None:
    log = tmp_path / "cli.log"
    write_log(log, SyntheticTraffic(rps=20, duration=180, seed=13))
    out = tmp_path / "out" / "w.yaml"
    code = main(["calibrate", str(log), "--out", str(out), "--check", "--seeds", "2"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "Service time" in stdout and "Check:" in stdout
    for name in ("w.yaml", "w.trace.csv", "w.latency.csv", "w.check.png"):
        assert (tmp_path / "out" / name).exists(), name
    assert main(["calibrate", str(log), "--json", "--latency", "lognormal"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["workload"]["service"]["latency"]["distribution"] == "lognormal"


# --------------------------------------------------------------------------------------------
# The derivations alone


def test_dispersion_tells_bursts_and_regularity() -> None:
    rng = np.random.default_rng(0)
    sec = np.arange(1_800_000_000, 1_800_000_000 + 1800)
    # a gamma-mixed Poisson: variance = mean (1 + mean / k) = 20 (1 + 2) -> D about 3
    bursty = pd.Series(rng.poisson(20 * rng.gamma(10, 1 / 10, len(sec))), index=sec)
    d = dispersion(bursty)
    assert d["index"] == pytest.approx(3.0, abs=0.4) and d["verdict"].startswith("burstier")
    regular = pd.Series(np.full(len(sec), 20), index=sec)
    assert dispersion(regular)["verdict"].startswith("more regular")


def test_diurnal_fit_recovers_a_daily_sinusoid() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(2 * 86400)
    rate = 20 * (1 + 0.4 * np.sin(2 * np.pi * (t - 3 * 3600) / 86400))
    start = 1_800_000_000
    counts = pd.Series(rng.poisson(rate), index=start + t)
    d = fit_diurnal(counts, start)
    # hourly counts of ~72,000: the fitted mean and amplitude are within a few tenths of a %
    assert d["rps"] == pytest.approx(20, rel=0.01)
    assert d["amplitude"] == pytest.approx(0.4, abs=0.01)
    assert abs(d["phase"] - 3 * 3600) < 300
    assert d["r2"] > 0.99
    assert fit_diurnal(counts.iloc[:3600], start) is None  # less than a day


def test_rate_trace_keeps_every_request() -> None:
    sec = np.arange(1000, 1000 + 125)
    counts = pd.Series(np.full(len(sec), 3), index=sec)  # 3 req/s: rows of 60 s
    trace, width = rate_trace(counts)
    assert width == 60
    covered = np.diff(np.append(trace["time_s"].to_numpy(), 125))
    assert (trace["rps"] * covered).sum() == pytest.approx(3 * 125)


def test_queueing_helpers() -> None:
    # Erlang C: one server at load 0.5 waits with probability 0.5 (M/M/1: P(wait) = rho)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert concurrency_for(0.5) >= 3 and erlang_c(concurrency_for(0.5), 0.5) <= 0.01
    x = np.random.default_rng(2).random(10_000)
    q, lo, hi = quantile_interval(x, 0.5)
    assert lo < q < hi and lo < 0.5 < hi and hi - lo < 0.03


def test_rate_trace_of_a_long_sparse_span_stays_small() -> None:
    # two busy hours 200 days apart: counts only where there are entries, rows capped
    start = 1_800_000_000
    sec = np.concatenate([np.arange(3600), 200 * 86400 + np.arange(3600)]) + start
    counts = pd.Series(np.full(len(sec), 5), index=sec)
    trace, width = rate_trace(counts)
    assert len(trace) <= 100_000 and width % 300 == 0
    covered = np.diff(np.append(trace["time_s"].to_numpy(), 200 * 86400 + 3600))
    assert (trace["rps"] * covered).sum() == pytest.approx(5 * len(sec))
    # the dispersion of constant counts (5 a second) is 0: more regular than Poisson
    assert dispersion(counts)["minutes"] == 120

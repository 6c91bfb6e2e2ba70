"""Sweeps: backends agree, seeds give common random numbers, runs resume, rows re-run alone,
and an alarm's detection rate over many replications matches the Poisson law it must follow."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

from bluegreen_sim.analysis.stats import mean_interval, normal_quantile, t_quantile, wilson_interval
from bluegreen_sim.analysis.sweep import (
    grid_points,
    load_sweep_file,
    plot_detection,
    plot_risk_speed,
    rerun,
    summarize,
    sweep,
    sweep_file,
)
from bluegreen_sim.analysis.sweep.common import CODE_VERSION
from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import ScenarioError, load_scenario, scenario_from_dict

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
GRID = {"green.error_rate": [0.0, 0.05], "deployment.steps.0.weight": [10, 50]}
ID_AND_GRID = ["green.error_rate", "deployment.steps.0.weight", "point", "replication", "run_id"]


def tiny_raw(**changes) -> dict:
    """A 5-minute canary of a 2-task service at 30 requests/s, with a green-5xx alarm."""
    raw = {
        "name": "tiny-canary",
        "duration": "5m",
        "load": {"rps": 30},
        "service": {
            "tasks": 2,
            "startup": {"distribution": "constant", "value": 10},
            "error_rate": 0.0,
        },
        "green": {"error_rate": 0.05},
        "load_balancer": {
            "deregistration_delay": "10s",
            "health_check": {"interval": "10s", "timeout": "5s", "healthy_threshold": 2},
        },
        "deployment": {
            "controller": "steps",
            "start": "30s",
            "steps": [{"weight": 20, "pause": "2m"}, {"weight": 100, "pause": 0}],
            "alarms": ["green-5xx"],
        },
        "alarms": [
            {
                "name": "green-5xx",
                "metric": "HTTPCode_Target_5XX_Count",
                "target_group": "green",
                "statistic": "Sum",
                "period": 60,
                "evaluation_periods": 1,
                "threshold": 3,
                "treat_missing_data": "notBreaching",
            }
        ],
    }
    raw.update(changes)
    return raw


def tiny_scenario(**changes):
    return scenario_from_dict(tiny_raw(**changes), "tiny")


def failing_runner(scenario, seed):
    """Runs normally, except that a green error rate of 0.07 fails at run time."""
    if scenario.green.error_rate == 0.07:
        raise RuntimeError("simulated crash of this run\nsecond line not shown")
    return simulate(scenario, seed=seed)


_calls = {"n": 0}


def interrupting_runner(scenario, seed):
    """Like Ctrl-C in the middle of a serial sweep: the third run is interrupted."""
    _calls["n"] += 1
    if _calls["n"] == 3:
        raise KeyboardInterrupt
    return simulate(scenario, seed=seed).summary


_executed: list[int] = []


def counting_runner(scenario, seed):
    """Simulates, and notes which replication it ran (serial sweeps run in this process)."""
    _executed.append(seed.spawn_key[0])
    return simulate(scenario, seed=seed)


@pytest.fixture(scope="module")
def serial_table():
    return sweep(tiny_scenario(), GRID, replications=2, entropy=2024)


# --------------------------------------------------------------------------------------------
# The table, the seeds, the backends


def test_table_shape_and_order(serial_table):
    df = serial_table
    assert len(df) == 8
    assert list(df.columns[:2]) == ["green.error_rate", "deployment.steps.0.weight"]
    assert list(df["run_id"]) == [f"p{p}-r{r}" for p in range(4) for r in range(2)]
    assert list(df["point"]) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert list(df["green.error_rate"]) == [0.0] * 4 + [0.05] * 4
    assert list(df["deployment.steps.0.weight"]) == [10, 10, 50, 50] * 2
    assert set(df["entropy"]) == {"2024"}
    assert list(df["spawn_key"]) == ["(0,)", "(1,)"] * 4
    assert df["error"].isna().all()
    assert "seed" not in df
    # Summaries really are per run: the bad green fails requests, the good one does not.
    assert (df.loc[df["green.error_rate"] == 0.0, "requests_failed_green"] == 0).all()
    assert (df.loc[df["green.error_rate"] == 0.05, "requests_failed_green"] > 0).all()
    fired = df.loc[df["outcome"] == "ROLLED_BACK", "alarms_fired"]
    assert len(fired) and (fired == "green-5xx").all()
    assert df.attrs["sweep"]["executed"] == 8


def test_backends_give_identical_tables(serial_table):
    processes = sweep(
        tiny_scenario(), GRID, replications=2, entropy=2024, backend="processes", workers=2
    )
    pd.testing.assert_frame_equal(serial_table, processes)
    pytest.importorskip("dask.distributed")
    dask = sweep(
        tiny_scenario(), GRID, replications=2, entropy=2024, backend="dask", workers=2,
        chunksize=1,
    )  # fmt: skip
    pd.testing.assert_frame_equal(serial_table, dask)


def test_same_sweep_twice_is_identical_and_replications_differ(serial_table):
    again = sweep(tiny_scenario(), GRID, replications=2, entropy=2024)
    pd.testing.assert_frame_equal(serial_table, again)
    other = sweep(tiny_scenario(), GRID, replications=2, entropy=2025)
    assert not other["requests_total"].equals(serial_table["requests_total"])
    reps = serial_table.groupby("replication")["requests_total"].first()
    assert reps[0] != reps[1]


def test_common_random_numbers_across_grid_points(serial_table):
    df = serial_table
    # Grid points that differ only in green's error rate see the very same arrivals.
    for weight in (10, 50):
        for r in (0, 1):
            rows = df[(df["deployment.steps.0.weight"] == weight) & (df["replication"] == r)]
            assert len(rows) == 2
            assert rows["requests_total"].nunique() == 1
            assert rows["first_faulty_green_request_s"].isna().sum() == 1


def test_rerun_one_row_alone_gives_the_same_numbers(serial_table):
    for i in (3, 6):
        row = serial_table.iloc[i]
        result = rerun(row, tiny_scenario())
        for key in ("requests_total", "requests_failed", "excess_failed", "cost_usd"):
            assert result.summary[key] == row[key], key
        assert result.summary["outcome"] == row["outcome"]
        expected = row["time_to_detect_s"]
        got = result.summary["time_to_detect_s"]
        assert (got is None and pd.isna(expected)) or got == expected


def test_random_entropy_is_recorded_and_reproduces():
    df = sweep(tiny_scenario(), {"green.error_rate": [0.05]}, replications=1)
    entropy = int(df["entropy"].iloc[0])
    assert entropy.bit_length() > 64  # SeedSequence's 128-bit default
    again = sweep(tiny_scenario(), {"green.error_rate": [0.05]}, replications=1, entropy=entropy)
    pd.testing.assert_frame_equal(df, again)


def test_zip_and_grid_combine_as_a_product():
    sc = tiny_scenario(duration="2m")
    points = grid_points(
        sc,
        grid={"green.error_rate": [0.0, 0.1]},
        zip={"alarms.0.threshold": [1, 5, 9], "alarms.0.evaluation_periods": [1, 2, 3]},
    )
    assert len(points) == 6
    assert points[1] == {
        "green.error_rate": 0.0,
        "alarms.0.threshold": 5,
        "alarms.0.evaluation_periods": 2,
    }
    assert [p["green.error_rate"] for p in points] == [0.0] * 3 + [0.1] * 3


# --------------------------------------------------------------------------------------------
# Validation and errors


def test_bad_grid_value_is_refused_before_anything_runs():
    with pytest.raises(ScenarioError) as err:
        sweep(
            tiny_scenario(),
            {"green.error_rate": [0.05, 1.5]},
            runner=interrupting_runner,  # would raise KeyboardInterrupt if anything ran
        )
    assert err.value.field == "grid green.error_rate"
    assert "1.5" in str(err.value)
    with pytest.raises(ScenarioError, match=r"grid green\.eror_rate.*unknown field"):
        sweep(tiny_scenario(), {"green.eror_rate": [0.1]})
    with pytest.raises(ScenarioError, match="one length"):
        sweep(tiny_scenario(), zip={"green.error_rate": [0.1, 0.2], "alarms.0.threshold": [1]})
    with pytest.raises(ScenarioError, match="also a grid key"):
        sweep(tiny_scenario(), {"green.error_rate": [0.1]}, zip={"green.error_rate": [0.2]})
    with pytest.raises(ScenarioError, match="empty"):
        sweep(tiny_scenario(), {"green.error_rate": []})


def test_a_run_that_raises_becomes_an_error_row():
    df = sweep(
        tiny_scenario(duration="3m"),
        {"green.error_rate": [0.02, 0.07]},
        replications=2,
        entropy=1,
        runner=failing_runner,
    )
    assert len(df) == 4
    bad = df[df["green.error_rate"] == 0.07]
    assert (bad["error"] == "RuntimeError: simulated crash of this run").all()
    assert bad["requests_total"].isna().all()
    good = df[df["green.error_rate"] == 0.02]
    assert good["error"].isna().all() and (good["requests_total"] > 0).all()
    # errors are left out of the statistics, not counted as zeros
    stats = summarize(df)
    assert stats.loc[(0.07, "requests_failed"), "n"] == 0
    assert stats.loc[(0.02, "requests_failed"), "n"] == 2


# --------------------------------------------------------------------------------------------
# Saving, interrupting, resuming


RESUME_GRID = {"green.error_rate": [0.0, 0.03, 0.08]}


def test_resume_after_the_sweep_was_killed(tmp_path):
    pytest.importorskip("pyarrow")  # parquet is the optional `parquet` extra
    out = tmp_path / "runs.parquet"
    parts = tmp_path / "runs.parquet.parts"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from test_sweep import RESUME_GRID, tiny_scenario
        from bluegreen_sim.analysis.sweep import sweep
        if __name__ == "__main__":
            sweep(tiny_scenario(), RESUME_GRID, replications=8, entropy=77,
                  backend="processes", workers=2, out={str(out)!r}, chunksize=1)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        start_new_session=True,  # its own process group: the kill reaches its workers too
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (parts.is_dir() and any(parts.glob("part-*.parquet"))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no part file appeared"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = pd.concat([pd.read_parquet(p) for p in parts.glob("part-*.parquet")])
    assert not out.exists()
    assert saved["run_id"].is_unique
    assert 1 <= len(saved) < 24

    _executed.clear()
    resumed = sweep(  # no entropy: the saved one
        tiny_scenario(), RESUME_GRID, replications=8, out=out, runner=counting_runner
    )
    assert len(_executed) == 24 - len(saved)  # the runs saved before the kill did not run again
    assert resumed.attrs["sweep"]["reused"] == len(saved)
    assert resumed.attrs["sweep"]["executed"] == 24 - len(saved)
    assert out.exists() and not parts.exists()
    fresh = sweep(tiny_scenario(), RESUME_GRID, replications=8, entropy=77)
    pd.testing.assert_frame_equal(resumed, fresh)
    # Nothing left to do: the consolidated file is read back as the same table.
    again = sweep(tiny_scenario(), RESUME_GRID, replications=8, entropy=77, out=out)
    assert again.attrs["sweep"]["executed"] == 0
    pd.testing.assert_frame_equal(again, fresh)
    with pytest.raises(ScenarioError, match="entropy 77"):
        sweep(tiny_scenario(), RESUME_GRID, replications=8, entropy=78, out=out)


def test_csv_is_appended_as_runs_finish_and_resumes(tmp_path, capsys):
    out = tmp_path / "runs.csv"
    sc = tiny_scenario(duration="3m")
    grid = {"green.error_rate": [0.0, 0.08]}
    _calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        sweep(sc, grid, replications=3, out=out, chunksize=1, runner=interrupting_runner)
    lines = out.read_text().splitlines()
    assert len(lines) == 3  # the header once, and the two runs done before the interruption
    assert "saved in" in capsys.readouterr().err
    with open(out, "a") as fh:
        fh.write("torn,line,of,a,killed,wri")  # a kill in the middle of a write
    _calls["n"] = -100  # no more interruptions
    resumed = sweep(sc, grid, replications=3, out=out, runner=interrupting_runner)
    assert "resuming" in capsys.readouterr().err
    assert resumed.attrs["sweep"]["executed"] == 4
    entropy = int(resumed["entropy"].iloc[0])
    fresh = sweep(sc, grid, replications=3, entropy=entropy)
    pd.testing.assert_frame_equal(resumed, fresh)
    again = sweep(sc, grid, replications=3, out=out)
    assert again.attrs["sweep"]["executed"] == 0
    pd.testing.assert_frame_equal(again, fresh)
    # More replications later: only the new ones run.
    more = sweep(sc, grid, replications=4, out=out)
    assert more.attrs["sweep"]["executed"] == 2
    pd.testing.assert_frame_equal(more[more["replication"] < 3].reset_index(drop=True), fresh)


def test_out_holding_another_sweep_is_refused(tmp_path):
    out = tmp_path / "runs.csv"
    sc = tiny_scenario(duration="2m")
    sweep(sc, {"green.error_rate": [0.0]}, entropy=5, out=out)
    with pytest.raises(ScenarioError, match="different sweep"):
        sweep(sc, {"green.error_rate": [0.5]}, entropy=5, out=out)
    with pytest.raises(ScenarioError, match=r"\.parquet or \.csv"):
        sweep(sc, {"green.error_rate": [0.0]}, out=tmp_path / "runs.xlsx")


def test_runs_saved_by_other_simulator_code_are_not_reused(tmp_path):
    out = tmp_path / "runs.csv"
    sc = tiny_scenario(duration="2m")
    first = sweep(sc, {"green.error_rate": [0.0]}, entropy=5, out=out)
    assert (first["code"] == CODE_VERSION).all()
    # the same sweep resumes (nothing to run again) while the code is the same...
    again = sweep(sc, {"green.error_rate": [0.0]}, entropy=5, out=out)
    assert again.attrs["sweep"]["executed"] == 0
    # ...but not once the saved runs say another version of the simulator made them
    saved = pd.read_csv(out, dtype=str)
    saved["code"] = "000000000000"
    saved.to_csv(out, index=False)
    with pytest.raises(ScenarioError, match="another version of the simulator"):
        sweep(sc, {"green.error_rate": [0.0]}, entropy=5, out=out)


# --------------------------------------------------------------------------------------------
# Sweep files


def test_sweep_file(tmp_path):
    pytest.importorskip("pyarrow")  # parquet is the optional `parquet` extra
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_raw(duration="3m")))
    (tmp_path / "sweeps").mkdir()
    spec = tmp_path / "sweeps" / "s.yaml"
    spec.write_text(
        textwrap.dedent(
            """
            scenario: ../tiny.yaml
            grid: {green.error_rate: [0.0, 0.08]}
            replications: 2
            entropy: 3
            out: results/s.csv
            """
        )
    )
    df = sweep_file(spec)
    assert len(df) == 4 and (tmp_path / "sweeps" / "results" / "s.csv").exists()
    direct = sweep(
        load_scenario(tmp_path / "tiny.yaml"),
        {"green.error_rate": [0.0, 0.08]},
        replications=2,
        entropy=3,
    )
    pd.testing.assert_frame_equal(df, direct)
    # arguments override the file
    other = sweep_file(spec, out=tmp_path / "o.parquet", replications=1)
    assert len(other) == 2 and (tmp_path / "o.parquet").exists()

    as_json = tmp_path / "sweeps" / "s.json"  # TOML and JSON sweep files read the same way
    as_json.write_text('{"scenario": "../tiny.yaml", "grid": {"green.error_rate": [0.1, 0.2]}}')
    assert load_sweep_file(as_json).grid == {"green.error_rate": [0.1, 0.2]}

    spec.write_text("scenario: ../tiny.yaml\ngrid: {green.error_rate: [0.1]}\nreplicas: 3\n")
    with pytest.raises(ScenarioError) as err:
        sweep_file(spec)
    assert err.value.field == "replicas" and "unknown field" in err.value.message
    spec.write_text("scenario: ../tiny.yaml\nbackend: threads\n")
    with pytest.raises(ScenarioError, match="backend"):
        sweep_file(spec)
    spec.write_text("scenario: ../tiny.yaml\ngrid: {green.error_rate: [2]}\n")
    with pytest.raises(ScenarioError, match=r"grid green\.error_rate"):
        sweep_file(spec)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")))
def test_shipped_sweep_files_are_valid(path):
    spec = load_sweep_file(path)
    scenario = load_scenario(path.parent / spec.scenario)
    points = grid_points(scenario, spec.grid, spec.zip)
    assert len(points) >= 2 and spec.entropy is not None


# --------------------------------------------------------------------------------------------
# Statistics


def poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed term by term."""
    term = total = math.exp(-lam)
    for i in range(1, k + 1):
        term *= lam / i
        total += term
    return total


def test_helpers_against_known_values():
    assert poisson_cdf(6, 6.0) == pytest.approx(0.6063027824125, abs=1e-12)
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174, rel=1e-9)
    assert t_quantile(0.975, 9) == pytest.approx(2.262157162799, rel=1e-9)
    assert t_quantile(0.995, 199) == pytest.approx(2.600760216, rel=1e-8)
    assert t_quantile(0.025, 30) == pytest.approx(-2.042272456301, rel=1e-9)
    # Wilson's bounds are the p with (k/n - p)^2 = z^2 p (1 - p) / n: solve the quadratic.
    for k, n, conf in ((5, 10, 0.95), (3, 40, 0.99), (197, 200, 0.95)):
        z = normal_quantile(0.5 + conf / 2)
        ph = k / n
        a, b, c = 1 + z * z / n, -(2 * ph + z * z / n), ph * ph
        roots = sorted(np.roots([a, b, c]).real)
        assert wilson_interval(k, n, conf) == pytest.approx(tuple(roots), abs=1e-12)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    n, mean, _, hi = mean_interval([1.0, 2.0, 3.0, None])
    assert (n, mean) == (3, 2.0)
    assert hi - mean == pytest.approx(4.302652729911 * 1.0 / math.sqrt(3), rel=1e-9)
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 40, 1000):
        for q in (0.9, 0.975, 0.995):
            assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-9)
    for k, lam in ((0, 0.5), (6, 6.0), (29, 30.0), (3, 0.1)):
        assert poisson_cdf(k, lam) == pytest.approx(stats.poisson.cdf(k, lam), rel=1e-10)


def test_summarize_and_plots(serial_table):
    stats = summarize(serial_table)
    assert stats.index.names == ["green.error_rate", "deployment.steps.0.weight", "measure"]
    group = serial_table[
        (serial_table["green.error_rate"] == 0.05)
        & (serial_table["deployment.steps.0.weight"] == 50)
    ]
    row = stats.loc[(0.05, 50, "requests_failed")]
    x = group["requests_failed"].astype(float)
    half = 12.706204736174 * x.std(ddof=1) / math.sqrt(2)
    assert row["n"] == 2 and row["mean"] == pytest.approx(x.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    k = int((group["outcome"] == "ROLLED_BACK").sum())
    rb = stats.loc[(0.05, 50, "rolled_back")]
    assert rb["mean"] == k / 2 and (rb["ci_low"], rb["ci_high"]) == wilson_interval(k, 2)
    assert stats.loc[(0.0, 10, "rolled_back"), "mean"] == 0.0
    by_weight = summarize(serial_table, by="deployment.steps.0.weight")
    assert by_weight.loc[(10, "requests_failed"), "n"] == 4

    fig = plot_detection(serial_table, x="green.error_rate", by="deployment.steps.0.weight")
    assert len(fig.axes[0].containers) == 2  # one errorbar line per strategy
    fig = plot_risk_speed(serial_table, by="deployment.steps.0.weight")
    assert len(fig.axes[0].get_legend().get_texts()) == 2


R_RPS, W_PERCENT, P_ERR, THRESHOLD = 20.0, 50.0, 0.01, 6  # alarm when errors > 6 in a minute


def test_alarm_detection_rate_matches_poisson():
    """Green serves w of R requests/s from t=120 s (a minute boundary) and fails a share p.

    With Poisson arrivals routed at random, green's errors in [120 s, 180 s) are Poisson with
    mean R·w·p·60 = 6. The alarm (Sum > 6 over one 60-s period) evaluates that minute at
    t = 180 s and never another (the run ends at 240 s), and before 120 s green has no traffic.
    So P(rollback) = 1 − PoissonCDF(6; 6) = 0.3937.
    """
    raw = tiny_raw(
        duration="4m",
        load={"rps": R_RPS},
        green={"error_rate": P_ERR},
        service={
            "tasks": 2,
            "startup": {"distribution": "constant", "value": 10},
            "latency": {"distribution": "constant", "value": 0.001},
        },
        deployment={
            "controller": "steps",
            "start": "30s",
            # green is ready at 51 s (10 s start-up, then two checks 10 s apart: the healthy
            # threshold); weight 0 until the minute boundary at 120 s
            "steps": [
                {"weight": 0, "pause": 69},
                {"weight": W_PERCENT, "pause": "1h"},
                {"weight": 100},
            ],
            "alarms": ["green-5xx"],
        },
    )
    raw["alarms"][0]["threshold"] = THRESHOLD
    started = time.perf_counter()
    df = sweep(
        scenario_from_dict(raw, "poisson"),
        replications=200,
        entropy=31337,
        backend="processes",
        workers=2,
    )
    elapsed = time.perf_counter() - started
    assert df["error"].isna().all()
    assert (df["production_traffic_s"] == 120.0).all()
    fired = df["alarms_fired"] == "green-5xx"
    rolled = df["outcome"] == "ROLLED_BACK"
    # alarms are polled every 60 s from the first step (51 s): the poll after 180 s is at 231 s
    assert (fired == rolled).all() and (df.loc[rolled, "rollback_start_s"] == 231.0).all()

    lam = R_RPS * W_PERCENT / 100 * P_ERR * 60
    expected = 1 - poisson_cdf(THRESHOLD, lam)
    k, n = int(rolled.sum()), len(df)
    lo, hi = wilson_interval(k, n, confidence=0.99)
    print(f"200 runs in {elapsed:.1f}s: {k}/{n} rolled back, theory {expected:.4f}")
    assert lo <= expected <= hi, (k, n, expected)

"""Lesson 22 and its sample log: the shipped files are what the documented script makes, the
lesson's workload is what ``calibrate`` derives from the log, and the description's claims hold.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bluegreen_sim import calibrate
from bluegreen_sim.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LOGS = SCENARIOS / "logs"
LESSON = SCENARIOS / "22-calibrated-canary.yaml"


def _script():
    spec = importlib.util.spec_from_file_location("make_sample_log", LOGS / "make_sample_log.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_log_is_what_the_script_makes(tmp_path: Path) -> None:
    from bluegreen_sim.interop.logs.synthetic import write_log

    shipped = LOGS / "sample-alb.log.gz"
    assert shipped.stat().st_size < 2_000_000
    write_log(tmp_path / "again.log.gz", _script().SAMPLE)
    assert (tmp_path / "again.log.gz").read_bytes() == shipped.read_bytes()


def test_the_shipped_workload_is_what_calibrate_derives(tmp_path: Path) -> None:
    workload, _ = calibrate([LOGS / "sample-alb.log.gz"], out=tmp_path / "w.yaml", progress=False)
    shipped = yaml.safe_load((LOGS / "sample-workload.yaml").read_text())
    workload["load"]["trace"] = "sample-workload.trace.csv"
    workload["service"]["latency"]["file"] = "sample-workload.latency.csv"
    assert workload == shipped
    for kind in ("trace", "latency"):
        again = pd.read_csv(tmp_path / f"w.{kind}.csv")
        pd.testing.assert_frame_equal(again, pd.read_csv(LOGS / f"sample-workload.{kind}.csv"))


def test_the_lesson_uses_the_calibrated_workload() -> None:
    shipped = yaml.safe_load((LOGS / "sample-workload.yaml").read_text())
    lesson = yaml.safe_load(LESSON.read_text())
    assert lesson["load"]["trace"] == "logs/" + shipped["load"]["trace"]
    assert lesson["load"]["rps"] == shipped["load"]["rps"]
    assert lesson["service"]["latency"]["file"] == "logs/" + shipped["service"]["latency"]["file"]
    for key in ("tasks", "concurrency", "error_rate"):
        assert lesson["service"][key] == shipped["service"][key], key


def _run(capsys, *sets: str) -> dict:
    args = ["run", str(LESSON), "--json"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_a_green_as_good_as_blue_passes_the_percentage_alarm(capsys) -> None:
    summary = _run(capsys, "green.error_rate=0.0049")
    assert summary["outcome"] == "SUCCEEDED"
    assert summary["alarms_fired"] == []


@pytest.mark.parametrize("seed", [1, 2])
def test_a_count_threshold_tuned_to_the_canary_fails_a_healthy_green(capsys, seed) -> None:
    count_alarm = (
        "{name: green-5xx, metric: HTTPCode_Target_5XX_Count, target_group: green, "
        "statistic: Sum, period: 60s, evaluation_periods: 3, datapoints_to_alarm: 2, "
        "threshold: 4, treat_missing_data: notBreaching}"
    )
    summary = _run(capsys, "green.error_rate=0.0049", f"alarms.0={count_alarm}", f"seed={seed}")
    assert summary["outcome"] == "ROLLED_BACK"
    assert summary["full_traffic_s"] is not None  # it fired after green took all the traffic
    assert summary["alarms_fired"] == ["green-5xx"]

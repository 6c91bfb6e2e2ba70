"""advise and recommend: constraints obeyed, dominated candidates ignored, both paths agree,
the commands behave.

A short canary scenario (9 simulated minutes, 40 req/s) keeps every run at a few hundredths of a
second. Runtime: about 20 s.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from bluegreen_sim import advise, load_scenario
from bluegreen_sim.analysis.advise import Advice, default_candidates, load_candidates
from bluegreen_sim.analysis.recommend import (
    export_recommendation,
    pareto_efficient,
    recommend,
)
from bluegreen_sim.cli import main
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict

SCENARIO = {
    "name": "short-canary",
    "duration": 540.0,
    "load": {"rps": 40, "pattern": "constant"},
    "service": {
        "tasks": 2,
        "cpu": 0.25,
        "memory": 0.5,
        "latency": {"distribution": "lognormal", "median": 0.02, "p99": 0.08},
        "error_rate": 0.001,
    },
    "deployment": {
        "controller": "codedeploy",
        "start": 60.0,
        "config": {"type": "TimeBasedCanary", "percentage": 25, "interval": 180},
        "termination_wait": 60.0,
        "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
        "alarms": ["green-5xx"],
    },
    "alarms": [
        {
            "name": "green-5xx",
            "metric": "HTTPCode_Target_5XX_Count",
            "target_group": "green",
            "statistic": "Sum",
            "period": 60.0,
            "evaluation_periods": 1,
            "threshold": 6,
            "comparison": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        }
    ],
}
ERRORS = {
    "errors +1%": {"kind": "errors", "delta": 0.01},
    "errors +5%": {"kind": "errors", "delta": 0.05},
}
CANDIDATES = {
    "canary 25% 3m, >6": {},
    "canary 25% 3m, >4": {"alarms.0.threshold": 4},
    "canary 25% 3m, >9": {"alarms.0.threshold": 9},
    "canary 10% 3m, >4": {"deployment.config.percentage": 10, "alarms.0.threshold": 4},
    "all at once, >6": {"deployment.config": "CodeDeployDefault.ECSAllAtOnce"},
    "all at once, >9": {
        "deployment.config": "CodeDeployDefault.ECSAllAtOnce",
        "alarms.0.threshold": 9,
    },
}


@pytest.fixture(scope="module")
def scenario():
    return scenario_from_dict(SCENARIO)


@pytest.fixture(scope="module")
def advice(scenario):
    return advise(scenario, CANDIDATES, ERRORS, pilots=2)


def _lookup(advice: Advice, candidate: str, case: str, measure: str) -> pd.Series:
    r = advice.results
    row = r[(r.candidate == candidate) & (r.case == case) & (r.measure == measure)]
    assert len(row) == 1, (candidate, case, measure)
    return row.iloc[0]


def test_error_regressions_take_the_exact_path(advice):
    r = advice.results
    exact = r[r.measure.isin(["P(false rollback)", "P(detect)"])]
    assert set(exact.method) == {"exact"}
    assert (exact.low == exact.value).all() and (exact.high == exact.value).all()
    # Every candidate has every measure, and durations come from pilot runs with intervals.
    table = advice.table()
    assert list(table.index) == list(CANDIDATES)
    assert table["deployment duration (s)"].notna().all()
    assert advice.notes == []


def test_recommendation_obeys_its_constraints(advice):
    rec = recommend(advice, max_false_rollback=0.05, min_detect=0.9, regression="errors +1%")
    assert rec.name is not None, rec.reason
    t = rec.table
    row = t.loc[rec.name]
    assert row["P(false rollback)_high"] <= 0.05
    assert row["P(detect) [errors +1%]_low"] >= 0.9
    assert row["feasible"] and row["efficient"] and row["recommended"]
    faster = t[t["deployment duration (s)"] < row["deployment duration (s)"]]
    assert not faster["feasible"].any(), "a faster candidate met the constraints"
    # Stricter constraints can only make the answer slower or impossible.
    strict = recommend(advice, max_false_rollback=1e-9, min_detect=0.9999)
    if strict.name is not None:
        assert t.loc[strict.name, "deployment duration (s)"] >= row["deployment duration (s)"]


def test_a_dominated_candidate_does_not_change_the_recommendation(advice):
    rec = recommend(advice, max_false_rollback=0.05, min_detect=0.9)
    assert rec.name is not None
    # A copy of the winner that is worse everywhere: slower, riskier, more false rollbacks.
    worse = advice.results[advice.results.candidate == rec.name].copy()
    worse["candidate"] = "dominated"
    for measure, change in (
        ("P(false rollback)", +0.001),
        ("deployment duration (s)", +60.0),
        ("failed requests", +5.0),
        ("P(detect)", -0.001),
    ):
        m = worse.measure == measure
        for col in ("value", "low", "high"):
            worse.loc[m, col] = worse.loc[m, col] + change
    bigger = Advice(
        pd.concat([advice.results, worse], ignore_index=True),
        {**advice.candidates, "dominated": dict(advice.candidates[rec.name])},
        advice.scenario,
        advice.regressions,
    )
    again = recommend(bigger, max_false_rollback=0.05, min_detect=0.9)
    assert again.name == rec.name
    assert not again.table.loc["dominated", "efficient"]


def test_pareto_efficiency_by_hand():
    values = pd.DataFrame({"a": [1, 2, 2, 3], "b": [3, 2, 3, 1]}, index=list("wxyz"))
    assert pareto_efficient(values).to_dict() == {"w": True, "x": True, "y": False, "z": True}


def test_the_simulated_path_agrees_with_the_exact_one(scenario):
    one = {"canary 25% 3m, >4": CANDIDATES["canary 25% 3m, >4"]}
    regressions = {"errors +1%": ERRORS["errors +1%"]}
    exact = advise(scenario, one, regressions, pilots=2)
    simulated = advise(
        scenario, one, regressions, method="simulate", min_reps=40, max_reps=40, batch=40
    )
    for case, measure in (("healthy", "P(false rollback)"), ("errors +1%", "P(detect)")):
        e = _lookup(exact, "canary 25% 3m, >4", case, measure)
        s = _lookup(simulated, "canary 25% 3m, >4", case, measure)
        assert s["method"] == "simulated" and s["n"] == 40
        assert s["low"] <= e["value"] <= s["high"], (case, e["value"], s.to_dict())


def test_latency_regressions_are_simulated_with_adaptive_replications(scenario):
    one = {"canary 25% 3m, >4": CANDIDATES["canary 25% 3m, >4"]}
    regs = {"latency +50%": {"kind": "latency", "multiply": 1.5}}
    advice = advise(scenario, one, regs, pilots=1, batch=5, min_reps=5, max_reps=15)
    row = _lookup(advice, "canary 25% 3m, >4", "latency +50%", "P(detect)")
    assert row["method"] == "simulated"
    assert 5 <= row["n"] <= 15
    # An error-count alarm cannot see latency; with zero detections in n runs the interval
    # is tight only after enough runs, and advise says when it is not.
    if row["high"] - row["low"] > 0.1:
        assert any("not tight enough" in n for n in advice.notes)


def test_export_writes_a_loadable_scenario(advice, tmp_path):
    rec = recommend(advice, max_false_rollback=0.05, min_detect=0.9)
    path = export_recommendation(rec, tmp_path / "recommended.yaml")
    loaded = load_scenario(path)
    assert loaded == rec.scenario.model_copy(update={"base_dir": loaded.base_dir})
    # The export command's formats: the recommended deployment settings as a snippet.
    group = json.loads(export_recommendation(rec, tmp_path / "x.json", to="ecs-json").read_text())
    assert group["deploymentGroupName"] == rec.scenario.name
    steps = load_scenario(
        path, overrides=["deployment.controller=steps", "deployment.steps=[{weight: 100}]"]
    )
    with pytest.raises(ScenarioError, match="AWS definition"):
        export_recommendation(replace(rec, scenario=steps), tmp_path / "y.tf", to="terraform")
    assert not (tmp_path / "y.tf").exists()


def test_default_grid_varies_strategy_and_threshold(scenario):
    grid = default_candidates(scenario)
    assert grid["own"] == {}
    assert grid["all at once"] == {"deployment.config": "CodeDeployDefault.ECSAllAtOnce"}
    assert grid["own, threshold 3"] == {"alarms.0.threshold": 3.0}
    assert grid["canary 10% 5m, threshold 12"] == {
        "deployment.config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "alarms.0.threshold": 12.0,
    }
    assert len(grid) == 5 * 3


def test_candidates_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match=r"c\.yaml"):
        load_candidates(bad)
    bad.write_text("one: 3\n")
    with pytest.raises(ScenarioError, match=r"candidates\.one"):
        load_candidates(bad)


# --------------------------------------------------------------------------------------------
# The command line


def test_cli_advise_writes_the_recommendation(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    cands = tmp_path / "c.yaml"
    cands.write_text(yaml.safe_dump({k: CANDIDATES[k] for k in list(CANDIDATES)[:3]}))
    out = tmp_path / "out"
    code = main(
        [
            "advise",
            str(scenario),
            "--candidates",
            str(cands),
            "--out",
            str(out),
            "--max-reps",
            "5",
            "--max-false-rollback",
            "0.5",
            "--min-detect",
            "0.5",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "recommended:" in text
    assert {p.name for p in out.iterdir()} >= {"advice.csv", "candidates.csv", "notes.yaml"}


def test_cli_advise_bad_candidates_exit_2_in_one_line(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    cands = tmp_path / "c.yaml"
    cands.write_text("a: {alarms.0.threshold: not-a-number}\n")
    out = tmp_path / "out"
    code = main(["advise", str(scenario), "--candidates", str(cands), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "threshold" in err
    assert not out.exists()


def test_cli_advise_power(capsys):
    code = main(
        [
            "advise",
            "power",
            "--rate",
            "150",
            "--weight",
            "10",
            "--bake",
            "5m",
            "--alarm",
            "threshold=5",
            "--alarm",
            "evaluation_periods=2",
            "--delta",
            "0.02",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "P(false rollback during the step)" in text and "smallest regression" in text
    code = main(
        [
            "advise",
            "power",
            "--rate",
            "150",
            "--weight",
            "10",
            "--bake",
            "5m",
            "--alarm",
            "period=30s",
        ]
    )
    assert code == 2
    assert "60-second" in capsys.readouterr().err

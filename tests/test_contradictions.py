"""Contradictions are refused in one line (exit 2), not silently ignored.

A setting that the rest of the scenario ignores (another controller's, another strategy's,
another hook kind's, another distribution's or load pattern's), a deployment that starts after
the run ends, and a key given twice are each refused by ``validate`` and ``run``, naming the
file, the field and what to do. So are the command-line mistakes of a first hour: a negative
seed, a sweep file given to ``run`` and a scenario given to ``sweep``, a ``--record-requests``
run that cannot fit in memory. Switching the controller with ``--set`` (as the lessons invite)
drops the other controller's settings with a one-line warning instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bluegreen_sim.cli import main

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
name: c
duration: 10m
service: {tasks: 2}
"""


def refuse(tmp_path: Path, capsys, text: str, *extra: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    for command in ("validate", "run"):
        assert main([command, str(path), *extra]) == 2, command
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("deployment", "field"),
    [
        ("{controller: ecs, config: CodeDeployDefault.ECSCanary10Percent5Minutes}", "config"),
        ("{controller: ecs, termination_wait: 5m}", "termination_wait"),
        ("{controller: ecs, auto_rollback: [DEPLOYMENT_FAILURE]}", "auto_rollback"),
        ("{controller: ecs, ready_wait: {wait: 5m}}", "ready_wait"),
        ("{controller: codedeploy, bake_time: 5m}", "bake_time"),
        ("{controller: codedeploy, strategy: LINEAR}", "strategy"),
        ("{controller: codedeploy, linear: {step_percent: 20}}", "linear"),
        ("{controller: codedeploy, circuit_breaker: {enable: false}}", "circuit_breaker"),
        ("{controller: codedeploy, alarm_rollback: false}", "alarm_rollback"),
        ("{controller: ecs, rollback_on_failure: false}", "rollback_on_failure"),
        ("{controller: ecs, strategy: CANARY, linear: {step_percent: 20}}", "linear"),
        ("{controller: ecs, strategy: LINEAR, canary: {canary_percent: 20}}", "canary"),
        (
            "{controller: codedeploy, config: {type: AllAtOnce, percentage: 10}}",
            "config.percentage",
        ),
        (
            "{controller: codedeploy, hooks: {AfterInstall: {kind: lambda, requests: 5}}}",
            "hooks.AfterInstall.requests",
        ),
        (
            "{controller: codedeploy, hooks: {AfterInstall: {kind: probe, duration: 9}}}",
            "hooks.AfterInstall.duration",
        ),
        (
            "{controller: codedeploy, hooks: {AfterInstall: {kind: lambda, timeout: 5m}}}",
            "hooks.AfterInstall.timeout",
        ),
        ("{controller: codedeploy, start: 10m}", "start"),
    ],
)
def test_a_setting_the_controller_ignores_is_refused(tmp_path, capsys, deployment, field):
    err = refuse(tmp_path, capsys, BASE + f"deployment: {deployment}\n")
    assert f": deployment.{field}: " in err
    assert "scenario reference" in err


def test_codedeploy_config_under_ecs_says_what_to_do(tmp_path, capsys) -> None:
    err = refuse(
        tmp_path,
        capsys,
        BASE + "deployment:\n  controller: ecs\n"
        "  config: CodeDeployDefault.ECSLinear10PercentEvery1Minutes\n",
    )
    assert "is a CodeDeploy setting" in err and "set deployment.controller: codedeploy" in err


def test_a_deployment_after_the_end_of_the_run_is_refused(tmp_path, capsys) -> None:
    err = refuse(tmp_path, capsys, BASE + "deployment: {controller: codedeploy, start: 15m}\n")
    assert "deployment.start" in err and "after the end of the run" in err


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("load: {rps: 5, ramp_to: 50}\n", "load.ramp_to"),
        ("load: {rps: 5, pattern: ramp, ramp_to: 9, amplitude: 0.2}\n", "load.amplitude"),
        (
            "green: {latency: {distribution: lognormal, median: 40ms, p99: 90ms, mean: 50ms}}\n",
            "green.latency.mean",
        ),
        ("faults: [{kind: crash, multiply: 2}]\n", "faults[0].multiply"),
        ("faults: [{kind: latency, multiply: 2, probability: 0.5}]\n", "faults[0].probability"),
    ],
)
def test_parameters_of_another_pattern_distribution_or_fault_are_refused(
    tmp_path, capsys, text, field
):
    err = refuse(tmp_path, capsys, BASE + text)
    assert f": {field}: " in err


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path, capsys) -> None:
    err = refuse(tmp_path, capsys, "name: d\nservice:\n  tasks: 3\n  cpu: 0.5\n  tasks: 4\n")
    assert re.search(r"s\.yaml: line 5: 'tasks' is given twice .*first on line 3", err)


def test_a_duplicate_key_in_json_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": "a", "duration": 60, "duration": 90}')
    assert main(["validate", str(path)]) == 2
    assert "'duration' is given twice" in capsys.readouterr().err


def test_yaml_is_still_data_only(tmp_path, capsys) -> None:
    err = refuse(tmp_path, capsys, "name: !!python/object/apply:os.system ['true']\n")
    assert "YAML tags are not allowed" in err


def test_defaults_restated_are_not_contradictions(tmp_path, capsys) -> None:
    # A resolved scenario (every default written out) loads back: only changed values count.
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "deployment: {controller: ecs, termination_wait: 1h, steps: []}\n")
    assert main(["validate", str(path)]) == 0


def test_switching_the_controller_by_override_drops_its_settings_with_a_warning(capsys):
    lesson = str(ROOT / "scenarios" / "10-green-never-healthy.yaml")
    assert main(["validate", lesson, "--set", "deployment.controller=ecs"]) == 0
    out, err = capsys.readouterr()
    assert "valid (green-never-healthy, ecs" in out
    assert len(err.splitlines()) == 1 and err.startswith("bluegreen-sim: warning: ")
    assert "deployment.config" in err and "(dropped)" in err


def test_a_negative_seed_is_a_usage_error(capsys) -> None:
    assert main(["run", str(ROOT / "scenarios" / "canary-bad-green.yaml"), "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "seed is a whole number >= 0" in err


def test_a_sweep_file_given_to_run_and_a_scenario_given_to_sweep(capsys) -> None:
    sweep_file = str(ROOT / "scenarios" / "sweeps" / "canary-detection.yaml")
    scenario = str(ROOT / "scenarios" / "canary-bad-green.yaml")
    assert main(["run", sweep_file]) == 2
    err = capsys.readouterr().err
    assert "this is a sweep file" in err and "bluegreen-sim sweep" in err
    assert main(["sweep", scenario]) == 2
    err = capsys.readouterr().err
    assert "is a scenario, not a sweep file" in err and f"bluegreen-sim run {scenario}" in err


def test_record_requests_that_cannot_fit_in_memory_is_refused_before_running(tmp_path, capsys):
    scenario = str(ROOT / "scenarios" / "canary-bad-green.yaml")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            scenario,
            "--set",
            "load.rps=900000",
            "--set",
            "duration=7d",
            "--record-requests",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--record-requests: about" in err and "GiB" in err and not out.exists()


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"bluegreen-sim \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)

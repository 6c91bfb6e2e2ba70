"""The ``bluegreen-sim`` command line: exit statuses, output, files, colours, errors.

Runs the CLI in-process (``main([...])`` with capsys) on tiny scenarios (a few minutes of
20 requests/s), plus one real ``python -m bluegreen_sim`` process and one ``bluegreen-sim``
console script.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import SUMMARY_CONTRACT_KEYS

from bluegreen_sim import load_scenario, simulate
from bluegreen_sim.cli import main, parse_variant, use_color
from bluegreen_sim.results import Result
from bluegreen_sim.results.narrate import format_clock, format_duration, narrate, summary_table

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")

TINY = """\
name: tiny
description: |
  A tiny steps deployment for the CLI tests.
  Second line, not listed.
duration: 3m
load: {rps: 20}
service: {tasks: 4, startup: {distribution: constant, value: 10s}}
load_balancer:
  deregistration_delay: 5s
  health_check: {interval: 5s, timeout: 2s, healthy_threshold: 2}
deployment: {controller: steps, start: 20s, steps: [{weight: 50, pause: 30s}, {weight: 100}]}
"""

ROLLBACK = """\
name: tiny-rollback
description: Green fails half its requests; an alarm rolls back.
duration: 3m
load: {rps: 20}
service: {tasks: 2, startup: {distribution: constant, value: 10s}}
green: {error_rate: 0.5}
load_balancer:
  deregistration_delay: 5s
  health_check: {interval: 5s, timeout: 2s, healthy_threshold: 2}
deployment:
  controller: steps
  start: 20s
  alarm_poll_interval: 10s
  steps: [{weight: 50, pause: 2m}, {weight: 100}]
  alarms: [green-5xx]
alarms:
  - {name: green-5xx, metric: HTTPCode_Target_5XX_Count, target_group: green, statistic: Sum,
     period: 60s, evaluation_periods: 1, threshold: 5, treat_missing_data: notBreaching}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def rollback(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-rollback.yaml"
    path.write_text(ROLLBACK)
    return path


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("BLUEGREEN_SCENARIOS", raising=False)
    monkeypatch.delenv("TERM", raising=False)


def run_json(capsys, *args: str) -> dict:
    code = main(["run", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --------------------------------------------------------------------------------------------
# run


def test_run_tells_the_story_then_the_summary(tiny: Path, capsys) -> None:
    code = main(["run", str(tiny), "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert not ANSI.search(out), "no colour when stdout is not a terminal"
    story, _, table = out.partition("\nSummary\n")
    assert table, "the summary table follows the story"
    lines = story.splitlines()
    assert lines[0].startswith("Scenario tiny (controller steps, seed 1, duration 3m)")
    assert lines[1] == "A tiny steps deployment for the CLI tests."
    expected_in_order = [
        "00:20  steps   deployment started: steps 50% → 100%",
        "00:20  steps   green task set created: 4 task(s)",
        "00:20  ecs     green: 4 tasks provisioning (start-up 10s)",
        "00:30  ecs     green: 4/4 tasks running",
        "00:35  alb     green: 4/4 targets healthy",
        "00:36  alb     production traffic shifted: green 50% / blue 50% (step 1)",
        "01:06  alb     production traffic shifted: green 100% / blue 0% (step 2)",
        "01:06  steps   deployment SUCCEEDED",
        "01:06  alb     blue: 4 targets draining (deregistration delay 5s)",
        "blue: 4 tasks stopped (replaced by green); the blue task set is terminated",
        "03:00",
    ]
    found = []
    for want in expected_in_order:
        hits = [i for i, line in enumerate(lines) if want in line]
        assert hits, f"{want!r} not in the narrated run:\n{story}"
        found.append(hits[0])
    assert found == sorted(found), "the story is told in time order"
    # Per-task events are folded: no line names a single task.
    assert not re.search(r"\b(blue|green)-\d+\b", story)
    times = [line[:5] for line in lines if re.match(r"\d\d:\d\d  ", line)]
    assert times == sorted(times)
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in table.splitlines()[1:])
    assert rows["outcome"] == "SUCCEEDED"
    assert rows["deployment"] == "00:20 → 01:06 (46s)"
    assert rows["alarms fired"] == "none"
    assert rows["time to detect"] == "-"
    assert rows["peak tasks"] == "8"
    for key in ("requests", "failed (5xx)", "failed on green", "excess failed", "cost"):
        assert key in rows
    assert re.fullmatch(r"\$\d+\.\d{4}", rows["cost"])


def test_run_narrates_alarm_and_rollback(rollback: Path, capsys) -> None:
    code = main(["run", str(rollback), "--seed", "3", "--no-color"])
    out, _ = capsys.readouterr()
    assert code == 0
    alarm = [
        ln for ln in out.splitlines() if "cloudwatch  alarm green-5xx:" in ln and "→ ALARM" in ln
    ]
    assert len(alarm) == 1
    # The datapoints that caused the transition, and the rule they broke.
    assert re.search(r"datapoints \[[-\d, ]*\d+\] vs > 5", alarm[0])
    text = out[out.index(alarm[0]) :]
    for want in (
        "alarm detected: green-5xx in ALARM",
        "rollback started: alarm green-5xx",
        "production traffic shifted: green 0% / blue 100% (rollback)",
        "deployment ROLLED_BACK",
        "green: 2 tasks stopped (rolled back); the green task set is removed",
    ):
        assert want in text, want
    assert re.search(r"^outcome\s+ROLLED_BACK", out, re.M)
    assert re.search(r"^alarms fired\s+green-5xx$", out, re.M)


def test_quiet_prints_the_summary_alone(tiny: Path, capsys) -> None:
    assert main(["run", str(tiny), "--quiet"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("Summary\n")
    assert "deployment started" not in out and "traffic shifted" not in out
    assert re.search(r"^outcome\s+SUCCEEDED$", out, re.M)


def test_json_is_the_summary_only(tiny: Path, capsys) -> None:
    summary = run_json(capsys, str(tiny), "--seed", "2")
    assert set(summary) >= SUMMARY_CONTRACT_KEYS
    assert summary["scenario"] == "tiny" and summary["seed"] == 2
    assert summary["outcome"] == "SUCCEEDED"
    assert isinstance(summary["alarms_fired"], list)
    assert summary["requests_total"] > 0


def test_seed_makes_runs_repeatable(tiny: Path, capsys) -> None:
    a = run_json(capsys, str(tiny), "--seed", "5")
    b = run_json(capsys, str(tiny), "--seed", "5")
    c = run_json(capsys, str(tiny), "--seed", "6")
    assert a == b
    assert a["requests_total"] != c["requests_total"]


def test_set_overrides_apply(tiny: Path, capsys) -> None:
    base = run_json(capsys, str(tiny), "--seed", "1")
    bad = run_json(capsys, str(tiny), "--seed", "1", "--set", "green.error_rate=0.5")
    assert base["requests_failed_green"] == 0
    # Green takes half the traffic for 30 s, then all of it: hundreds of requests, half fail.
    assert bad["requests_failed_green"] > 300
    none = run_json(capsys, str(tiny), "--set", "deployment.controller=none", "--set", "load.rps=5")
    assert none["outcome"] == "NO_DEPLOYMENT"
    assert none["requests_total"] < base["requests_total"] / 2


def test_out_writes_results_that_parse(tiny: Path, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "results" / "tiny"
    code = main(
        [
            "run",
            str(tiny),
            "--seed",
            "1",
            "--out",
            str(out_dir),
            "--record-requests",
            "--requests-format",
            "csv",
            "--json",
        ]
    )
    stdout, _ = capsys.readouterr()
    assert code == 0
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == [
        "alarms.csv",
        "events.csv",
        "metrics.csv",
        "requests.csv",
        "run.json",
        "scenario.yaml",
        "summary.json",
        "timeline.csv",
    ]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary == json.loads(stdout)
    timeline = pd.read_csv(out_dir / "timeline.csv")
    assert {"time_s", "green_weight", "requests_blue", "requests_green"} <= set(timeline)
    # One row per second over the whole run (the last partial second may have its own row).
    assert (timeline["time_s"].diff().dropna() == 1).all() and timeline["time_s"].iloc[0] == 0
    assert timeline["time_s"].iloc[-1] >= 179
    assert timeline["green_weight"].iloc[-1] == 100
    events = pd.read_csv(out_dir / "events.csv")
    assert list(events.columns) == ["time_s", "source", "event", "detail"]
    assert (events["event"] == "deployment started").sum() == 1
    requests = pd.read_csv(out_dir / "requests.csv")
    assert len(requests) == summary["requests_total"]
    assert set(requests["revision"]) == {"blue", "green"}
    pd.read_csv(out_dir / "metrics.csv")


def test_out_into_an_existing_folder_keeps_other_files(tiny: Path, tmp_path: Path, capsys):
    out_dir = tmp_path / "existing"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    assert main(["run", str(tiny), "--out", str(out_dir), "--quiet"]) == 0
    out, _ = capsys.readouterr()
    names = sorted(p.name for p in out_dir.iterdir())
    assert "notes.txt" in names and "summary.json" in names
    assert not [n for n in names if n.startswith(".partial")]
    assert (out_dir / "notes.txt").read_text() == "mine"
    assert f"Wrote {out_dir / 'alarms.csv'}" in out


def test_a_failed_write_leaves_nothing_half_written(tiny: Path, tmp_path: Path, monkeypatch):
    def broken_save(self, out, *, requests_format="parquet"):
        Path(out, "summary.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(Result, "save", broken_save)
    new = tmp_path / "a" / "b"
    assert main(["run", str(tiny), "--out", str(new), "--quiet"]) == 1
    assert not (tmp_path / "a").exists(), "folders this run created are removed"
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text('{"from": "before"}')
    assert main(["run", str(tiny), "--out", str(old), "--quiet"]) == 1
    assert [p.name for p in old.iterdir()] == ["summary.json"]
    assert json.loads((old / "summary.json").read_text()) == {"from": "before"}


def test_out_that_is_a_file_is_a_usage_error(tiny: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["run", str(tiny), "--out", str(target)]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        f"bluegreen-sim: error: --out: {target} exists and is not a directory"
    ]


# --------------------------------------------------------------------------------------------
# colour


def test_colour_only_on_a_terminal_without_no_color(tiny, monkeypatch, capsys) -> None:
    assert use_color(False, FakeTerminal()) is True
    assert use_color(True, FakeTerminal()) is False
    assert use_color(False, io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(False, FakeTerminal()) is False
    monkeypatch.delenv("NO_COLOR")

    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["run", str(tiny)]) == 0
    coloured = terminal.getvalue()
    assert ANSI.search(coloured)
    for args, env in (([], {"NO_COLOR": "1"}), (["--no-color"], {})):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        terminal = FakeTerminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        assert main(["run", str(tiny), *args]) == 0
        plain = terminal.getvalue()
        assert not ANSI.search(plain)
        assert ANSI.sub("", coloured) == plain
        monkeypatch.delenv("NO_COLOR", raising=False)


def test_narrate_and_table_colour_flag(tiny: Path) -> None:
    result = simulate(load_scenario(tiny), seed=1)
    assert ANSI.search(narrate(result, color=True))
    assert not ANSI.search(narrate(result, color=False))
    assert ANSI.sub("", summary_table(result.summary, True)) == summary_table(result.summary)


# --------------------------------------------------------------------------------------------
# validate, scenarios


def test_validate(tiny: Path, capsys) -> None:
    assert main(["validate", str(tiny)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"{tiny}: valid (tiny, steps, 3m)" and err == ""
    assert main(["validate", str(tiny), "--set", "deployment.controller=none"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[:2] == [
        f"{tiny}: valid (tiny, none, 3m)",
        "with overrides: deployment.controller=none",
    ]


def test_scenarios_lists_the_bundled_ones(capsys) -> None:
    assert main(["scenarios"]) == 0
    out, _ = capsys.readouterr()
    bundled = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert bundled, "the repository bundles scenarios"
    assert f"Scenarios in {ROOT / 'bluegreen_sim' / 'lessons'}:" in out  # the package's
    assert re.search(
        r"canary-bad-green\.yaml\s+canary-bad-green\s+Green fails 8 % of requests\.", out
    )
    for path in bundled:
        assert path.name in out


def test_scenarios_dir_and_environment(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.yaml").write_text(TINY)
    (folder / "b.toml").write_text('name = "bee"\ndescription = "Bees.\\nMore."\n')
    (folder / "broken.json").write_text("{")
    (folder / "notes.txt").write_text("not a scenario")
    assert main(["scenarios", "--dir", str(folder)]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert re.fullmatch(
        r"\s+a\.yaml\s+tiny\s+A tiny steps deployment for the CLI tests\.", lines[1]
    )
    assert re.fullmatch(r"\s+b\.toml\s+bee\s+Bees\.", lines[2])
    assert "broken.json (not a valid scenario" in out and "notes.txt" not in out
    assert "Second line" not in out

    monkeypatch.setenv("BLUEGREEN_SCENARIOS", str(folder))
    assert main(["scenarios"]) == 0
    out, _ = capsys.readouterr()
    assert f"Scenarios in {folder}:" in out and "canary-bad-green" not in out

    assert main(["scenarios", "--dir", str(tmp_path / "nowhere")]) == 2
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and "no scenarios folder" in err


# --------------------------------------------------------------------------------------------
# errors and usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run"],
        ["frobnicate"],
        ["run", "x.yaml", "--seed", "one"],
        ["run", "x.yaml", "--quiet", "--json"],
        ["compare", "x.yaml"],
        ["sweep", "x.yaml", "--backend", "cloud"],
    ],
)
def test_usage_errors_exit_2_on_one_line(argv, capsys) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("bluegreen-sim: error: ")


def test_help_exits_0(capsys) -> None:
    assert main(["--help"]) == 0
    assert main(["run", "--help"]) == 0
    out, _ = capsys.readouterr()
    assert "--record-requests" in out


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["run", str(missing)]) == 2
    _, err = capsys.readouterr()
    assert err == f"bluegreen-sim: error: {missing}: file not found\n"


def test_internal_error_exits_1_traceback_only_with_debug(tiny, monkeypatch, capsys) -> None:
    import bluegreen_sim.engine.simulation

    def explode(*args, **kwargs):
        raise RuntimeError("the engine\nbroke")

    monkeypatch.setattr(bluegreen_sim.engine.simulation, "simulate", explode)
    assert main(["run", str(tiny)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines() == [
        "bluegreen-sim: error: internal error: RuntimeError: the engine broke "
        "(run with --debug for the traceback)"
    ]
    for argv in (["--debug", "run", str(tiny)], ["run", str(tiny), "--debug"]):
        assert main(argv) == 1
        _, err = capsys.readouterr()
        assert "Traceback" in err and err.rstrip().endswith("RuntimeError: the engine broke")


# --------------------------------------------------------------------------------------------
# plots


def test_plot_is_written(tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("bluegreen_sim.results.plots")
    out_dir = tmp_path / "out"
    assert main(["run", str(tiny), "--out", str(out_dir), "--plot", "--quiet"]) == 0
    assert (out_dir / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "figs" / "run.svg"
    assert main(["run", str(tiny), "--plot", str(svg), "--quiet"]) == 0
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(p.name for p in svg.parent.iterdir()) == ["run.svg"]
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny), "--plot", "--quiet"]) == 0
    assert (tmp_path / "tiny.png").exists()


def test_plot_without_plotting_is_one_clear_error(tiny, tmp_path, monkeypatch, capsys) -> None:
    def no_plots(self, path=None):
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(Result, "plot", no_plots)
    out_dir = tmp_path / "out"
    assert main(["run", str(tiny), "--out", str(out_dir), "--plot"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "bluegreen-sim: error: --plot: plotting is not available (No module named 'matplotlib')"
    ]
    assert not out_dir.exists()


# --------------------------------------------------------------------------------------------
# compare, sweep


def test_parse_variant() -> None:
    assert parse_variant("fast=deployment.config=CodeDeployDefault.ECSAllAtOnce;load.rps=50") == (
        "fast",
        {"deployment.config": "CodeDeployDefault.ECSAllAtOnce", "load.rps": 50},
    )
    assert parse_variant("as-is=") == ("as-is", {})


def test_compare(tiny: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("bluegreen_sim.analysis.compare")
    table = tmp_path / "cmp.csv"
    argv = ["compare", str(tiny), "--variant", "base=", "--variant", "bad=green.error_rate=0.5"]
    assert main([*argv, "--seeds", "2", "--out", str(table)]) == 0
    out, _ = capsys.readouterr()
    header = out.splitlines()[0].split()
    assert header == ["base", "bad"]
    runs = pd.read_csv(table)
    assert list(runs["variant"]) == ["base", "base", "bad", "bad"]
    assert list(runs["seed"]) == [0, 1, 0, 1]
    assert (runs.loc[runs["variant"] == "bad", "requests_failed"] > 300).all()
    assert (runs.loc[runs["variant"] == "base", "requests_failed"] == 0).all()
    # Without a variant that is the scenario as it is, the baseline column comes first.
    assert (
        main(["compare", str(tiny), "--variant", "bad=green.error_rate=0.5", "--seeds", "2"]) == 0
    )
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].split() == ["baseline", "bad"]
    argv = ["compare", str(tiny), "--variant", "bad=green.error_rate=0.5", "--no-baseline"]
    assert main([*argv, "--seeds", "2"]) == 0
    assert capsys.readouterr()[0].splitlines()[0].split() == ["bad"]
    # A bad variant is refused before any run, naming the file, the variant and the field.
    assert main(["compare", str(tiny), "--variant", "oops=green.error_rate=2"]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        f"bluegreen-sim: error: {tiny} (variant oops): green.error_rate: "
        "Input should be less than or equal to 1 (got 2)"
    ]


def test_sweep(tiny: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("bluegreen_sim.analysis.sweep")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        "scenario: tiny.yaml\ngrid: {green.error_rate: [0.0, 0.5]}\nreplications: 2\nentropy: 1\n"
    )
    rows = tmp_path / "rows.csv"
    argv = ["sweep", str(sweep_file), "--backend", "serial", "--no-progress", "--out", str(rows)]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert "requests_failed" in out and "green.error_rate" in out
    assert len(pd.read_csv(rows)) == 4


# --------------------------------------------------------------------------------------------
# small helpers of the narration


def test_clock_and_duration_formats() -> None:
    assert format_clock(0) == "00:00"
    assert format_clock(61.9) == "01:01"
    assert format_clock(3599) == "59:59"
    assert format_clock(3725, hours=True) == "1:02:05"
    assert format_duration(None) == "-"
    assert format_duration(2.04) == "2.0s"
    assert format_duration(45) == "45s"
    assert format_duration(200) == "3m20s"
    assert format_duration(180) == "3m"
    assert format_duration(3900) == "1h05m"


# --------------------------------------------------------------------------------------------
# real processes


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def test_python_dash_m(tiny: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bluegreen_sim", "run", str(tiny), "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "SUCCEEDED"


def test_console_script(tiny: Path) -> None:
    script = shutil.which("bluegreen-sim")
    if script is None:
        pytest.skip("the bluegreen-sim script is not installed (pip install -e .)")
    proc = subprocess.run(
        [script, "validate", str(tiny)], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert (proc.returncode, proc.stdout.splitlines()[0], proc.stderr) == (
        0,
        f"{tiny}: valid (tiny, steps, 3m)",
        "",
    )
    proc = subprocess.run(
        [script, "run", str(tiny), "--set", "green.error_rate=7"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"bluegreen-sim: error: {tiny}: green.error_rate: "
        "Input should be less than or equal to 1 (got 7)"
    ]

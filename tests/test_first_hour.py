"""A user's first hour: capacity on screen, what ran recorded, failures told plainly.

Through the command line, as a new user meets it: ``validate`` and ``run`` print each
revision's offered utilisation and warn from 90 %; a run whose queues grow without bound is
told "overloaded"; the default ``service.concurrency`` is a web task's (10) and the lessons
that rely on one slot say so; ``--out`` records the scenario as it ran (after overrides), the
seed and the version, and the resolved scenario runs again to the same summary; the narrated
header names the overrides; the summary splits failures by status and revision and tells
``excess_failed`` in words.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import yaml

from bluegreen_sim.cli import main
from bluegreen_sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent

# The architect: 20 tasks, 500 requests/s, linear 10 %/min, p99 and 5xx alarms.
ARCHITECT = """\
name: architect
duration: 6m
load: {rps: 500}
service:
  tasks: 20
  latency: {distribution: lognormal, median: 40ms, p99: 150ms}
  startup: {distribution: constant, value: 20s}
load_balancer:
  health_check: {interval: 10s, timeout: 5s, healthy_threshold: 2}
  deregistration_delay: 10s
deployment:
  controller: codedeploy
  start: 30s
  config: CodeDeployDefault.ECSLinear10PercentEvery1Minutes
  termination_wait: 1m
  auto_rollback: [DEPLOYMENT_STOP_ON_ALARM]
  alarms: [green-p99, green-5xx]
alarms:
  - {name: green-p99, metric: TargetResponseTime, target_group: green, extended_statistic: p99,
     period: 1m, evaluation_periods: 2, threshold: 0.5}
  - {name: green-5xx, metric: HTTPCode_Target_5XX_Count, target_group: green, statistic: Sum,
     period: 1m, evaluation_periods: 2, threshold: 50, treat_missing_data: notBreaching}
"""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def architect(tmp_path: Path) -> str:
    path = tmp_path / "architect.yaml"
    path.write_text(ARCHITECT)
    return str(path)


# --------------------------------------------------------------------------------------------
# 1. Capacity


def test_default_concurrency_is_a_web_tasks_and_lessons_that_need_one_slot_say_so() -> None:
    assert Scenario().service.concurrency == 10
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        service = yaml.safe_load(path.read_text())["service"]
        assert "concurrency" in service, f"{path.name} relies on the default concurrency"


def test_validate_prints_the_utilisation_per_revision(tmp_path) -> None:
    code, out, err = cli("validate", architect(tmp_path))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1].startswith("capacity at the peak rate, 500 req/s")
    # 500 req/s × 47.0 ms mean (lognormal 40/150 ms) ÷ (20 × 10) = 11.8 %
    assert " ".join(lines[2].split()) == (
        "blue 20 tasks × 10 concurrent, mean service 47 ms: 12% at full traffic"
    )
    assert "at the first shift (10 %)" in lines[3] and "1.2%" in lines[3]


def test_validate_and_run_warn_in_one_line_from_ninety_percent(tmp_path) -> None:
    path = architect(tmp_path)
    code, _, err = cli("validate", path, "--set", "service.concurrency=2")
    assert code == 0 and err == ""  # 59 %
    code, out, err = cli("validate", path, "--set", "service.concurrency=1")
    assert code == 0 and "118%" in out
    warnings = err.splitlines()
    assert len(warnings) == 2  # blue and green, one line each
    assert warnings[0].startswith("bluegreen-sim: warning: blue is 118% utilised at full traffic")
    assert "queues grow without bound" in warnings[0] and "service.concurrency" in warnings[0]
    code, out, err = cli("run", path, "--set", "service.concurrency=1", "--json")
    assert code == 0 and len(err.splitlines()) == 2 and json.loads(out)


def test_the_narration_says_overloaded_when_queues_grow(tmp_path) -> None:
    path = architect(tmp_path)
    code, out, _ = cli("run", path, "--set", "service.concurrency=1", "--set", "duration=3m")
    assert code == 0
    story = [ln for ln in out.splitlines() if "  load  " in ln]
    assert story and story[0].startswith("00:00  load") and "blue: overloaded" in story[0]
    assert "queues grow without bound" in story[0]
    rows = [ln for ln in out.splitlines() if ln.startswith("overloaded")]
    assert len(rows) == 1 and "blue 00:00" in rows[0]
    code, out, err = cli("run", path, "--set", "duration=3m")  # 10 slots: 12 %
    assert code == 0 and "overloaded" not in out and err == ""


# --------------------------------------------------------------------------------------------
# 4. What ran is recorded


def test_out_records_the_resolved_scenario_seed_and_version(tmp_path) -> None:
    lesson = str(ROOT / "scenarios" / "canary-bad-green.yaml")
    out_dir = tmp_path / "out"
    code, out, _ = cli(
        "run", lesson, "--set", "green.error_rate=0.02", "--seed", "4", "--out", str(out_dir)
    )
    assert code == 0
    # the header tells the description and, under it, what was changed since
    head = out.splitlines()[:3]
    assert head[1] == "Green fails 8 % of requests."
    assert head[2] == "with overrides: green.error_rate=0.02"
    record = json.loads((out_dir / "run.json").read_text())
    assert record["seed"] == 4 and record["overrides"] == ["green.error_rate=0.02"]
    assert record["version"] and record["scenario_file"] == lesson
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["overrides"] == ["green.error_rate=0.02"]
    resolved = yaml.safe_load((out_dir / "scenario.yaml").read_text())
    assert resolved["green"]["error_rate"] == 0.02
    # what ran runs again, alone, to the same figures
    code, again, _ = cli("run", str(out_dir / "scenario.yaml"), "--seed", "4", "--json")
    again = json.loads(again)
    assert code == 0
    for key in ("requests_total", "requests_failed", "latency_p99_ms", "outcome", "cost_usd"):
        assert again[key] == summary[key], key
    assert "overrides" in (line.split()[0] for line in out.splitlines() if line.strip())


# --------------------------------------------------------------------------------------------
# 5. The numbers a lesson talks about


def table(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        key, sep, value = line.partition("  ")
        if sep and key and not key[0].isdigit():
            rows[key] = value.strip()
    return rows


def test_failures_split_by_status_and_revision() -> None:
    lesson = str(ROOT / "scenarios" / "14-deregistration-delay-too-short.yaml")
    code, out, _ = cli("run", lesson, "--quiet")
    assert code == 0
    rows = table(out)
    summary = json.loads(cli("run", lesson, "--json")[1])
    assert rows["failed by status"] == (
        f"{summary['requests_502']} × 502 from the load balancer (task stopped mid-request); "
        f"{summary['requests_504']} × 504 from the load balancer (idle timeout)"
    )
    assert rows["failed on blue"].startswith(f"{summary['requests_failed_blue']:,} of ")
    assert rows["failed on green"].startswith(f"{summary['requests_failed_green']:,} of ")


def test_excess_failed_is_told_in_words() -> None:
    hook = str(ROOT / "scenarios" / "04-test-hook-catches-bad-green.yaml")
    rows = table(cli("run", hook, "--quiet")[1])
    assert rows["failed on green"] == "0 (served no production request)"
    assert rows["excess failed"].startswith("none")
    bad = str(ROOT / "scenarios" / "canary-bad-green.yaml")
    summary = json.loads(cli("run", bad, "--json")[1])
    rows = table(cli("run", bad, "--quiet")[1])
    assert rows["excess failed"] == f"{summary['excess_failed']:,.0f} above blue's 0.10% error rate"
    assert rows["failed by status"] == f"{summary['requests_500']:,} × 500 from the targets"


# --------------------------------------------------------------------------------------------
# The README's walk-through


def test_the_readme_walkthrough_validates_as_shown(tmp_path, monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Your own scenario") :]
    scenario = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    console = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert console[0] == "$ bluegreen-sim validate checkout-api.yaml"
    monkeypatch.chdir(tmp_path)
    Path("checkout-api.yaml").write_text(scenario)
    code, out, err = cli("validate", "checkout-api.yaml")
    assert code == 0 and err == ""
    assert out.splitlines() == console[1:]
    summary = json.loads(cli("run", "checkout-api.yaml", "--seed", "1", "--json")[1])
    # the figures the walk-through quotes
    assert summary["outcome"] == "ROLLED_BACK" and summary["alarms_fired"] == ["green-5xx"]
    assert (summary["requests_failed_green"], summary["requests_green"]) == (181, 12749)
    assert summary["test_requests_failed"] == 3
    code, _, err = cli("validate", "checkout-api.yaml", "--set", "service.concurrency=1")
    assert "blue is 279% utilised" in err

"""The lesson scenarios keep teaching what their descriptions say.

Every bundled scenario (``scenarios/*.yaml``, found by glob, so a new file is covered) runs from
the command line (``bluegreen-sim run FILE --quiet --out DIR``, in-process) with exit status 0,
and its outcome, the order of its key lifecycle events and the summary facts its description
relies on are pinned in :data:`LESSONS`. The cross-lesson stories (blast radius, the cost of a
long termination wait, the deregistration delay) and the ``--set`` variants that descriptions
invite the student to try are pinned by the tests after the table. A scenario without an entry
in the table fails, so a lesson can never silently start teaching something else.

Each run takes a second or less of simulation; the whole file runs in about 20 s (2 cores).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bluegreen_sim.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
FILES = sorted(p.name for p in SCENARIOS.glob("*.yaml"))

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Lesson:
    """What a lesson must show.

    ``events``: event names (the ``event`` column) separated by ``" > "``; they must occur in
    this order, not necessarily next to each other. ``facts``: ``"key op value"`` separated by
    ``"; "``, op one of ``== != < <= > >=`` and the value a Python literal or ``$key`` (the
    summary's value of ``key``); or ``"key is None"`` / ``"key is not None"``.
    """

    outcome: str
    events: str
    facts: str = ""


DEPLOYED = "deployment started > Install started > green task set created > Install succeeded"

LESSONS: dict[str, Lesson] = {
    "01-all-at-once-cutover.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > test traffic routed to green > production traffic shifted"
        " > termination wait 5m > blue task set removed > deployment succeeded",
        "requests_failed == 0; full_traffic_s == $production_traffic_s; peak_tasks == 16;"
        " rollback_start_s is None; alarms_fired == []",
    ),
    "02-canary-healthy.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > production traffic shifted"
        " > blue task set removed > deployment succeeded",
        "requests_failed == 0; alarms_fired == []",
    ),
    "03-linear-healthy.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED}{' > production traffic shifted' * 10}"
        " > blue task set removed > deployment succeeded",
        "requests_failed == 0; alarms_fired == []",
    ),
    "04-test-hook-catches-bad-green.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > test traffic routed to green > AfterAllowTestTraffic started"
        " > AfterAllowTestTraffic failed > rollback started > deployment rolled back",
        "requests_green == 0; production_traffic_s is None; requests_failed == 0;"
        " test_requests == 100; test_requests_failed > 1; time_to_detect_s is None;"
        " outcome_reason == 'AfterAllowTestTraffic hook failed'",
    ),
    "05-canary-alarm-rollback.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > AfterAllowTestTraffic succeeded > production traffic shifted"
        " > alarm ALARM > alarm detected > rollback started > deployment rolled back",
        "alarms_fired == ['green-p99']; time_to_detect_s is not None; time_to_detect_s < 180;"
        " detected_before_full_traffic == True; test_requests_failed == 0;"
        " requests_failed == 0; full_traffic_s is None",
    ),
    "06-blast-radius-all-at-once.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > AfterAllowTestTraffic succeeded > production traffic shifted"
        " > fault started > alarm ALARM > rollback started > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s is not None; time_to_detect_s < 120;"
        " test_requests_failed == 0; requests_failed == $requests_failed_green",
    ),
    "07-blast-radius-linear.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > production traffic shifted"
        " > alarm ALARM > rollback started > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s is not None;"
        " detected_before_full_traffic == True",
    ),
    "08-blast-radius-canary.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > alarm ALARM > rollback started"
        " > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s is not None;"
        " detected_before_full_traffic == True; full_traffic_s is None",
    ),
    "09-latent-leak-after-full-shift.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > AfterAllowTestTraffic succeeded > production traffic shifted"
        " > production traffic shifted > termination wait 20m > fault started > alarm ALARM"
        " > rollback started > deployment rolled back",
        "detected_before_full_traffic == False; time_to_detect_s is not None;"
        " rollback_start_s > $full_traffic_s; alarms_fired == ['green-p99'];"
        " outcome_reason == 'alarm green-p99 in ALARM during the termination wait'",
    ),
    "10-green-never-healthy.yaml": Lesson(
        "ROLLED_BACK",
        "deployment started > Install started > fault started > target unhealthy"
        " > Install failed > rollback started > deployment rolled back",
        "requests_green == 0; requests_failed == 0; deployment_duration_s == 3600;"
        " production_traffic_s is None; outcome_reason == 'green task set never became healthy'",
    ),
    "11-alarm-too-loose.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > AfterAllowTestTraffic succeeded > production traffic shifted"
        " > fault started > production traffic shifted > blue task set removed"
        " > deployment succeeded",
        "alarms_fired == []; requests_failed > 1000; requests_failed == $requests_failed_green",
    ),
    "12-false-alarm-dependency-outage.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > fault started > alarm ALARM"
        " > rollback started > deployment rolled back > fault ended",
        "error_rate_blue > 0; requests_failed_blue > $requests_failed_green;"
        " alarms_fired == ['green-5xx']; time_to_detect_s is None",
    ),
    "13-cold-start-slow-start.yaml": Lesson(
        "SUCCEEDED",
        "deployment started > green task set created > fault started > Install succeeded"
        " > production traffic shifted > production traffic shifted > blue task set removed"
        " > fault started > task stopped > target healthy",
        "latency_p99_ms < 400; requests_failed <= 5",
    ),
    "14-deregistration-delay-too-short.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > blue task set removed"
        " > deployment succeeded > target draining > target deregistered",
        "requests_502 > 10; requests_503 == 0",
    ),
    "15-deregistration-delay-long-enough.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > blue task set removed"
        " > deployment succeeded > target draining > target deregistered",
        "requests_502 == 0; requests_503 == 0; requests_failed == $requests_504",
    ),
    "16-ecs-canary-circuit-breaker.yaml": Lesson(
        "ROLLED_BACK",
        "deployment started > SCALE_UP started > circuit breaker MONITORING"
        " > production traffic shifted > fault started > circuit breaker count"
        " > circuit breaker TRIGGERED > ROLLBACK_REQUESTED > ROLLBACK_SUCCESSFUL"
        " > deployment rolled back",
        "time_to_detect_s < 30; requests_failed < 10; alarms_fired == []; full_traffic_s is None",
    ),
    "17-termination-wait-5m.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > termination wait 5m > blue task set removed",
        "requests_failed == 0",
    ),
    "18-termination-wait-60m.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > termination wait 60m > blue task set removed",
        "requests_failed == 0",
    ),
    # issue 12: a canary on a workload calibrated from an access log (variants pinned in
    # tests/test_calibrate_lesson.py)
    "19-calibrated-canary.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > alarm ALARM > rollback started"
        " > deployment rolled back",
        "alarms_fired == ['green-5xx']; detected_before_full_traffic == True;"
        " full_traffic_s is None; error_rate_blue > 0.003; error_rate_blue < 0.007;"
        " time_to_detect_s < 180; requests_failed_green < 30",
    ),
    "canary-bad-green.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > alarm ALARM > rollback started"
        " > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s is not None;"
        " detected_before_full_traffic == True",
    ),
}


# --------------------------------------------------------------------------------------------
# Running a lesson from the command line


@dataclass
class Run:
    """What the CLI wrote for one run."""

    summary: dict[str, Any]
    events: pd.DataFrame
    requests: pd.DataFrame | None


_CACHE: dict[tuple[str, tuple[str, ...], bool], Run] = {}


@pytest.fixture(scope="module")
def run_lesson(tmp_path_factory):
    """``run_lesson(file, *overrides, requests=False)``: one CLI run, cached for the module."""

    def run(name: str, *overrides: str, requests: bool = False) -> Run:
        key = (name, overrides, requests)
        if key not in _CACHE:
            out = tmp_path_factory.mktemp("run")
            argv = ["run", str(SCENARIOS / name), "--quiet", "--out", str(out)]
            for item in overrides:
                argv += ["--set", item]
            if requests:
                argv += ["--record-requests", "--requests-format", "csv"]
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                status = main(argv)
            assert status == 0, f"{name} {overrides}: exit {status}: {stderr.getvalue()}"
            assert "outcome" in stdout.getvalue()
            _CACHE[key] = Run(
                json.loads((out / "summary.json").read_text()),
                pd.read_csv(out / "events.csv"),
                pd.read_csv(out / "requests.csv") if requests else None,
            )
        return _CACHE[key]

    return run


def _missing_in_order(events: pd.Series, wanted: str) -> str | None:
    """The first wanted event not found after the previous one (None: all found in order)."""
    names = list(events)
    pos = 0
    for name in wanted.split(" > "):
        try:
            pos = names.index(name, pos) + 1
        except ValueError:
            return name
    return None


def _check_fact(summary: dict[str, Any], fact: str) -> str | None:
    """None if the fact holds for the summary, else what is wrong."""
    if fact.endswith((" is None", " is not None")):
        key, _, rest = fact.partition(" is ")
        actual = summary[key]
        ok = (actual is None) == (rest == "None")
        return None if ok else f"{key} = {actual!r}, expected it {rest!r}"
    key, op, text = fact.split(" ", 2)
    actual = summary[key]
    expected = summary[text[1:]] if text.startswith("$") else ast.literal_eval(text)
    if actual is None or expected is None or not _OPS[op](actual, expected):
        return f"{key} = {actual!r}, expected {op} {expected!r}"
    return None


# --------------------------------------------------------------------------------------------
# Every scenario: runs, and shows what its entry says


def test_every_scenario_has_an_entry():
    assert FILES, f"no scenarios found in {SCENARIOS}"
    assert set(FILES) == set(LESSONS), (
        f"scenarios without an entry in LESSONS: {sorted(set(FILES) - set(LESSONS))}; "
        f"entries without a file: {sorted(set(LESSONS) - set(FILES))}"
    )


@pytest.mark.parametrize("name", FILES)
def test_lesson(run_lesson, name):
    lesson = LESSONS.get(name)
    if lesson is None:
        pytest.fail(f"{name} has no entry in LESSONS: pin what it teaches")
    run = run_lesson(name)
    summary = run.summary
    assert summary["outcome"] == lesson.outcome, (name, summary["outcome_reason"])
    missing = _missing_in_order(run.events["event"], lesson.events)
    assert missing is None, f"{name}: event {missing!r} missing or out of order"
    facts = [f.strip() for f in lesson.facts.split(";") if f.strip()]
    problems = [p for p in (_check_fact(summary, f) for f in facts) if p]
    assert not problems, f"{name}: {problems}"


def test_lesson_descriptions_are_short_and_numbered_lessons_are_in_order():
    import yaml

    numbered = [f for f in FILES if f[:2].isdigit()]
    assert len(numbered) >= 12
    assert [int(f[:2]) for f in numbered] == list(range(1, len(numbered) + 1))
    for name in FILES:
        text = yaml.safe_load((SCENARIOS / name).read_text())["description"]
        words = len(text.split())
        assert 20 <= words <= 120, f"{name}: a description of {words} words"


# --------------------------------------------------------------------------------------------
# The stories that span lessons


def test_healthy_shifts_take_longer_the_more_careful_they_are(run_lesson):
    aao, canary, linear = (
        run_lesson(f).summary
        for f in ("01-all-at-once-cutover.yaml", "02-canary-healthy.yaml", "03-linear-healthy.yaml")
    )
    # Canary: the rest 5 minutes after the first 10 %; linear: 100 % nine minutes after 10 %.
    assert canary["full_traffic_s"] - canary["production_traffic_s"] == 300
    assert linear["full_traffic_s"] - linear["production_traffic_s"] == 540
    assert canary["deployment_duration_s"] == aao["deployment_duration_s"] + 300
    assert linear["deployment_duration_s"] == aao["deployment_duration_s"] + 540


def test_blast_radius_all_at_once_then_linear_then_canary(run_lesson):
    aao, linear, canary = (
        run_lesson(f).summary
        for f in (
            "06-blast-radius-all-at-once.yaml",
            "07-blast-radius-linear.yaml",
            "08-blast-radius-canary.yaml",
        )
    )
    # The alarms of the careful shifts fire no sooner...
    assert linear["time_to_detect_s"] >= aao["time_to_detect_s"]
    assert canary["time_to_detect_s"] >= aao["time_to_detect_s"]
    # ...yet far fewer users see an error.
    assert aao["requests_failed"] > 4 * linear["requests_failed"]
    assert linear["requests_failed"] > canary["requests_failed"] > 0
    assert aao["requests_green"] > linear["requests_green"] > canary["requests_green"]


def test_latent_leak_with_a_short_termination_wait_succeeds_and_hurts(run_lesson):
    long_wait = run_lesson("09-latent-leak-after-full-shift.yaml").summary
    short = run_lesson("09-latent-leak-after-full-shift.yaml", "deployment.termination_wait=5m")
    assert short.summary["outcome"] == "SUCCEEDED"
    ev = short.events
    fired = ev[ev["event"] == "alarm ALARM"]["time_s"]
    assert len(fired) and fired.min() > short.summary["deployment_end_s"]
    assert short.summary["requests_failed"] > 1000
    assert long_wait["requests_failed"] < short.summary["requests_failed"] / 10


def test_never_healthy_green_the_circuit_breaker_gives_up_sooner(run_lesson):
    codedeploy = run_lesson("10-green-never-healthy.yaml").summary
    ecs = run_lesson("10-green-never-healthy.yaml", "deployment.controller=ecs")
    assert ecs.summary["outcome"] == "ROLLED_BACK"
    assert _missing_in_order(ecs.events["event"], "circuit breaker TRIGGERED") is None
    assert ecs.summary["deployment_duration_s"] < 120
    assert ecs.summary["requests_green"] == 0
    assert ecs.summary["cost_usd"] < codedeploy["cost_usd"]


def test_a_tighter_alarm_catches_the_regression_in_the_canary(run_lesson):
    loose = run_lesson("11-alarm-too-loose.yaml").summary
    tight = run_lesson("11-alarm-too-loose.yaml", "alarms.0.threshold=10").summary
    assert tight["outcome"] == "ROLLED_BACK"
    assert tight["detected_before_full_traffic"] is True
    assert tight["requests_failed"] < loose["requests_failed"] / 20


def test_cold_green_all_at_once_and_slow_start_on_a_new_group(run_lesson):
    canary = run_lesson("13-cold-start-slow-start.yaml").summary
    all_at_once = "deployment.config=CodeDeployDefault.ECSAllAtOnce"
    # Without slow start, an all-at-once cutover sends every user to cold green.
    cold = run_lesson("13-cold-start-slow-start.yaml", all_at_once, "load_balancer.slow_start=0")
    assert cold.summary["outcome"] == "SUCCEEDED"
    assert cold.summary["latency_p99_ms"] > 2 * canary["latency_p99_ms"]
    # With slow start, only the first healthy green target is out of slow start: it takes
    # nearly all the traffic of the cutover and the new group melts down.
    piled = run_lesson("13-cold-start-slow-start.yaml", all_at_once).summary
    assert piled["requests_failed"] > 1000
    assert piled["worst_minute_p99_ms"] > 10_000


def test_a_replacement_target_ramps_up_under_slow_start(run_lesson):
    run = run_lesson("13-cold-start-slow-start.yaml", requests=True)
    ev = run.events
    crashed = ev[ev["detail"].str.contains("crashed", na=False)]
    assert len(crashed) == 2  # "two green tasks crash later"
    crash_at = crashed["time_s"].min()
    healthy = ev[(ev["event"] == "target healthy") & (ev["time_s"] > crash_at)]
    assert len(healthy) >= 1
    new_task = healthy.iloc[0]["detail"].split(":")[0]
    t0 = healthy.iloc[0]["time_s"]
    req = run.requests
    green = req[(req["revision"] == "green") & (req["arrival_s"] >= t0)]
    first = green[green["arrival_s"] < t0 + 30]
    # The first 30 s of a 120 s linear ramp: about an eighth of an old target's share.
    per_task = first.groupby("task").size()
    old = per_task.drop(new_task).median()
    assert per_task[new_task] < 0.4 * old
    # Once the ramp is over it takes its full share.
    late = green[(green["arrival_s"] >= t0 + 150) & (green["arrival_s"] < t0 + 210)]
    per_task = late.groupby("task").size()
    assert per_task[new_task] > 0.8 * per_task.drop(new_task).median()


def test_deregistration_delay_shorter_than_requests_cuts_them(run_lesson):
    short = run_lesson("14-deregistration-delay-too-short.yaml").summary
    enough = run_lesson("15-deregistration-delay-long-enough.yaml").summary
    assert short["requests_total"] == enough["requests_total"]
    assert short["requests_502"] > 10
    assert enough["requests_502"] == 0
    assert short["requests_failed"] > enough["requests_failed"]


def test_a_long_termination_wait_costs_more(run_lesson):
    short = run_lesson("17-termination-wait-5m.yaml").summary
    long_ = run_lesson("18-termination-wait-60m.yaml").summary
    assert short["requests_total"] == long_["requests_total"]
    assert long_["deployment_end_s"] - short["deployment_end_s"] == 55 * 60
    assert long_["cost_usd"] > 1.5 * short["cost_usd"]
    assert long_["vcpu_hours"] > short["vcpu_hours"]

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
        "deployment started > SCALE_UP started > circuit breaker MONITORING > fault started"
        " > circuit breaker count > circuit breaker TRIGGERED > ROLLBACK_REQUESTED"
        " > ROLLBACK_SUCCESSFUL > deployment rolled back",
        "requests_green == 0; requests_failed == 0; production_traffic_s is None;"
        " alarms_fired == []; deployment_duration_s < 90",
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
    "21-publication-delay.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > AfterAllowTestTraffic succeeded > production traffic shifted"
        " > fault started > alarm ALARM > rollback started > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s > 120; time_to_detect_s < 180;"
        " requests_failed == $requests_failed_green",
    ),
    # issue 12: a canary on a workload calibrated from an access log (variants pinned in
    # tests/test_calibrate_lesson.py)
    "22-calibrated-canary.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > alarm ALARM > rollback started"
        " > deployment rolled back",
        "alarms_fired == ['green-5xx']; detected_before_full_traffic == True;"
        " full_traffic_s is None; error_rate_blue > 0.003; error_rate_blue < 0.007;"
        " time_to_detect_s < 180; requests_failed_green < 30",
    ),
    # issue 15: where real deployments break
    "23-ecs-rolling-update.yaml": Lesson(
        "ROLLED_BACK",
        "deployment started > circuit breaker MONITORING > rolling batch > fault started"
        " > rolling batch > BAKE_TIME started > alarm ALARM > alarm detected"
        " > ROLLBACK_REQUESTED > rolling batch > ROLLBACK_SUCCESSFUL > deployment rolled back",
        "peak_tasks == 16; alarms_fired == ['service-5xx']; requests_503 == 0;"
        " requests_failed == $requests_failed_green; requests_failed > 300;"
        " time_to_detect_s < 120; outcome_reason == 'alarm service-5xx in ALARM'",
    ),
    "24-reconnect-storm.yaml": Lesson(
        "SUCCEEDED",
        f"{DEPLOYED} > production traffic shifted > blue task set removed"
        " > deployment succeeded > target draining > connections dropped",
        "connections_dropped > 1900; reconnect_peak_per_s > 150; worst_minute_p99_ms > 2000;"
        " requests_failed == 0",
    ),
    "25-reconnects-spread-out.yaml": Lesson(
        "SUCCEEDED",
        "deployment started > rolling batch > connections dropped > rolling batch"
        " > connections dropped > steady state > deployment succeeded",
        "reconnect_peak_per_s < 70; worst_minute_p99_ms < 400; requests_failed == 0;"
        " peak_tasks <= 12; deployment_duration_s > 300",
    ),
    "26-listener-reset-503.yaml": Lesson(
        "SUCCEEDED",
        "deployment started > SCALE_UP started > production traffic shifted > BAKE_TIME started"
        " > fault started > production traffic shifted > CLEAN_UP started"
        " > deployment succeeded > fault ended > production traffic shifted",
        "requests_503 == 6000; requests_failed == $requests_503; requests_failed_green == 0;"
        " alarms_fired == []",
    ),
    "canary-bad-green.yaml": Lesson(
        "ROLLED_BACK",
        f"{DEPLOYED} > production traffic shifted > alarm ALARM > rollback started"
        " > deployment rolled back",
        "alarms_fired == ['green-5xx']; time_to_detect_s is not None;"
        " detected_before_full_traffic == True",
    ),
    "19-crash-after-healthy-elb-alarm.yaml": Lesson(
        "ROLLED_BACK",
        "deployment started > SCALE_UP started > circuit breaker MONITORING"
        " > production traffic shifted > fault started > circuit breaker ignores"
        " > alarm ALARM > alarm detected > ROLLBACK_REQUESTED > deployment rolled back",
        "alarms_fired == ['elb-5xx']; requests_500 == 0; requests_failed > 100;"
        " outcome_reason == 'alarm elb-5xx in ALARM'; time_to_detect_s < 180;"
        " full_traffic_s is None",
    ),
    "20-grace-period-restart-loop.yaml": Lesson(
        "ROLLED_BACK",
        "deployment started > SCALE_UP started > target unhealthy"
        " > task marked for replacement > circuit breaker TRIGGERED > deployment rolled back",
        "requests_green == 0; requests_failed == 0; production_traffic_s is None",
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
    numbers = [int(f[:2]) for f in numbered]
    assert numbers == list(range(1, len(numbers) + 1))
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
    # ...yet far fewer users see an error (all at once about 3 times linear's, seed 1).
    assert aao["requests_failed"] > 3 * linear["requests_failed"]
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
    # ECS replaces first: the breaker counts the unhealthy tasks as they are stopped to make
    # room for replacements, about two and a half minutes in (seed 1), not an hour.
    assert ecs.summary["deployment_duration_s"] < 180
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


def test_slow_start_spares_only_the_target_registered_into_the_empty_group(run_lesson):
    # ECS registers each green task on its own as it starts. The first is registered into an
    # empty group in one registration operation: it does not enter slow start (ALB-UG); every
    # later one does, as a healthy target out of slow start is there when it becomes healthy.
    all_at_once = "deployment.config=CodeDeployDefault.ECSAllAtOnce"
    ev = run_lesson("13-cold-start-slow-start.yaml", all_at_once).events
    registered = ev[(ev["event"] == "target registered") & ev["detail"].str.startswith("green")]
    names = registered["detail"].str.split(" ").str[0]
    first, install = names.iloc[0], set(names.iloc[:8])  # the eight of Install
    healthy = ev[ev["event"] == "target healthy"]
    task = healthy["detail"].str.split(":").str[0]
    initial = healthy[task.isin(install) & ~task.duplicated()]  # each one's first time
    assert len(initial) == 8
    ramping = initial["detail"].str.contains("slow start 120s")
    assert list(initial.loc[~ramping, "detail"].str.split(":").str[0]) == [first]
    # Without slow start nobody ramps.
    plain = run_lesson("13-cold-start-slow-start.yaml", all_at_once, "load_balancer.slow_start=0")
    assert not plain.events["detail"].str.contains("slow start", na=False).any()


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


def test_each_minute_of_publication_delay_adds_a_minute_to_detection(run_lesson):
    # Lesson 21 is lesson 06 with publish_delay 60 s; docs/lessons.md shows 0, 60 and 120 s.
    runs = {
        d: run_lesson("21-publication-delay.yaml", f"cloudwatch.publish_delay={d}").summary
        for d in (0, 60, 120)
    }
    lesson = run_lesson("21-publication-delay.yaml").summary
    # the same run as the override of 60 s; only the record of the overrides differs
    assert {k: v for k, v in lesson.items() if k != "overrides"} == {
        k: v for k, v in runs[60].items() if k != "overrides"
    }
    base = run_lesson("06-blast-radius-all-at-once.yaml").summary
    assert runs[0]["time_to_detect_s"] == base["time_to_detect_s"]
    assert runs[0]["requests_failed"] == base["requests_failed"]
    for d in (60, 120):
        # The alarm sees each minute d seconds late, so it fires d seconds later ...
        assert runs[d]["time_to_detect_s"] == pytest.approx(runs[0]["time_to_detect_s"] + d)
        # ... while green fails about 5 requests a second (100/s x 5 %): ~300 more a minute.
        extra = runs[d]["requests_failed"] - runs[0]["requests_failed"]
        assert 4 * d < extra < 6 * d
        assert runs[d]["outcome"] == "ROLLED_BACK"


def test_a_sticky_canary_moves_nobody_and_blue_removal_fails_its_clients(run_lesson):
    # docs/lessons.md, "Things to try": lesson 02 with 5000 clients and 10-minute cookies.
    plain = run_lesson("02-canary-healthy.yaml").summary
    sticky = run_lesson(
        "02-canary-healthy.yaml", "load.clients=5000", "load_balancer.target_group_stickiness=10m"
    ).summary
    assert sticky["outcome"] == "SUCCEEDED"
    assert sticky["requests_total"] == plain["requests_total"]
    # Clients renew their blue cookies every ~50 s: green gets requests only after blue is gone,
    # and those clients got 503s first, for up to ten minutes.
    assert sticky["requests_green"] < plain["requests_green"] / 5
    assert sticky["requests_failed"] == sticky["requests_503"] > 40_000


def test_a_long_termination_wait_costs_more(run_lesson):
    short = run_lesson("17-termination-wait-5m.yaml").summary
    long_ = run_lesson("18-termination-wait-60m.yaml").summary
    assert short["requests_total"] == long_["requests_total"]
    assert long_["deployment_end_s"] - short["deployment_end_s"] == 55 * 60
    assert long_["cost_usd"] > 1.5 * short["cost_usd"]
    assert long_["vcpu_hours"] > short["vcpu_hours"]


def test_the_breaker_catches_a_never_healthy_green_not_one_that_crashes_later(run_lesson):
    never = run_lesson("16-ecs-canary-circuit-breaker.yaml")
    later = run_lesson("19-crash-after-healthy-elb-alarm.yaml")
    assert _missing_in_order(never.events["event"], "circuit breaker TRIGGERED") is None
    assert "circuit breaker TRIGGERED" not in set(later.events["event"])
    # Under the older reading every crash counts, and the breaker trips on lesson 19 too.
    optimistic = run_lesson(
        "19-crash-after-healthy-elb-alarm.yaml", "deployment.circuit_breaker.counting=every_stop"
    ).summary
    assert optimistic["outcome_reason"].startswith("circuit breaker")
    assert optimistic["time_to_detect_s"] < later.summary["time_to_detect_s"]


@pytest.mark.parametrize(
    ("app_start", "grace", "outcome"),
    [
        ("90s", "0s", "ROLLED_BACK"),
        ("90s", "1m", "ROLLED_BACK"),
        ("90s", "2m", "SUCCEEDED"),
        ("120s", "2m", "ROLLED_BACK"),
        ("120s", "3m", "SUCCEEDED"),
        ("30s", "1m", "SUCCEEDED"),
    ],
)
def test_grace_period_against_start_up(run_lesson, app_start, grace, outcome):
    # The grace period must cover the start-up plus (healthy threshold - 1) x interval = 20 s.
    run = run_lesson(
        "20-grace-period-restart-loop.yaml",
        f"green.app_start={app_start}",
        f"service.health_check_grace_period={grace}",
    )
    assert run.summary["outcome"] == outcome, run.summary["outcome_reason"]
    if outcome == "SUCCEEDED":
        assert run.summary["requests_failed"] == 0
        assert "unhealthy ignored" in set(run.events["event"])


def test_grace_period_sweep_file_names_the_lesson_and_its_grid():
    from bluegreen_sim.analysis.sweep import load_sweep_file

    spec = load_sweep_file(SCENARIOS / "sweeps" / "grace-period.yaml")
    assert spec.scenario == "../20-grace-period-restart-loop.yaml"
    assert set(spec.grid) == {"green.app_start", "service.health_check_grace_period"}


# --------------------------------------------------------------------------------------------
# issue 15: rolling updates, reconnect storms and the 503 windows


def test_the_rolling_update_keeps_its_floor_and_half_the_tasks_cannot_carry_the_load(run_lesson):
    from bluegreen_sim import load_scenario, simulate

    def run(**overrides):
        result = simulate(load_scenario(SCENARIOS / "23-ecs-rolling-update.yaml", overrides))
        tl = result.timeline
        tl = tl[tl["time_s"] >= result.summary["deployment_start_s"]]
        return result, int((tl["healthy_blue"] + tl["healthy_green"]).min())

    _, fewest = run()
    assert fewest == 8
    # minimum 50 % / maximum 100 %: ECS keeps 4 tasks, but 100 requests/s need about 4.7
    # (mean service time 47 ms): they queue, fail their health checks by timeout, and are
    # replaced, so the service falls below the floor ECS meant to keep.
    half, fewest = run(**{"service.minimum_healthy_percent": 50, "service.maximum_percent": 100})
    ev = half.events
    assert fewest < 4
    assert ev["detail"].str.contains("unhealthy: failed ELB health checks").sum() > 10
    assert half.summary["requests_503"] > 0
    # maximum 100 %: never more than 8 tasks RUNNING in service at once; the tasks still
    # draining or stopping (deregistration delay, then stopTimeout) come on top in peak_tasks
    tl = half.timeline
    assert int((tl["running_blue"] + tl["running_green"]).max()) <= 8


def test_rolling_exposes_users_like_all_at_once_and_rolls_back_slower(run_lesson):
    rolling = run_lesson("23-ecs-rolling-update.yaml").summary
    all_at_once = run_lesson("06-blast-radius-all-at-once.yaml").summary
    canary = run_lesson("08-blast-radius-canary.yaml").summary
    assert rolling["requests_total"] == all_at_once["requests_total"]
    assert rolling["requests_failed"] > all_at_once["requests_failed"] > canary["requests_failed"]


def test_the_storm_comes_from_terminating_blue_at_once(run_lesson):
    storm = run_lesson("24-reconnect-storm.yaml").summary
    spread = run_lesson("25-reconnects-spread-out.yaml").summary
    assert storm["reconnect_peak_per_s"] > 3 * spread["reconnect_peak_per_s"]
    assert storm["worst_minute_p99_ms"] > 10 * spread["worst_minute_p99_ms"]
    # Spreading it out costs time, and some clients reconnect twice.
    assert spread["deployment_duration_s"] > 5 * storm["deployment_duration_s"]
    assert spread["connections_dropped"] > storm["connections_dropped"]


def test_the_503_window_is_every_request_from_clean_up_to_the_fix(run_lesson):
    run = run_lesson("26-listener-reset-503.yaml", requests=True)
    ev = run.events
    clean_up = ev[ev["event"] == "CLEAN_UP started"]["time_s"].iloc[0]
    fixed = ev[ev["event"] == "fault ended"]["time_s"].iloc[0]
    req = run.requests
    inside = (req["arrival_s"] >= clean_up) & (req["arrival_s"] < fixed)
    assert (req.loc[inside, "status"] == 503).all()
    assert (req.loc[~inside, "status"] != 503).all()
    assert inside.sum() == 20 * (fixed - clean_up) == 6000
    # Restored before CLEAN_UP, the reset is harmless: blue still had its targets.
    early = run_lesson("26-listener-reset-503.yaml", "faults.0.duration=2m").summary
    assert early["outcome"] == "SUCCEEDED" and early["requests_failed"] == 0


def test_the_things_to_try_of_lessons_30_to_33(run_lesson):
    # Lesson 23 without a bake (AWS's default for rolling): over before the alarm can fire.
    no_bake = run_lesson("23-ecs-rolling-update.yaml", "deployment.bake_time=0s").summary
    assert no_bake["outcome"] == "SUCCEEDED"
    assert (
        no_bake["requests_failed"]
        > 5 * run_lesson("23-ecs-rolling-update.yaml").summary["requests_failed"]
    )
    # Lesson 24 with a minute of jitter: the same reconnects, no storm.
    slow = run_lesson("24-reconnect-storm.yaml", "load.connections.reconnect_jitter=60s").summary
    assert (
        slow["connections_dropped"]
        == run_lesson("24-reconnect-storm.yaml").summary["connections_dropped"]
    )
    assert slow["reconnect_peak_per_s"] < 60 and slow["worst_minute_p99_ms"] < 400
    # Lesson 06 with green scaled down 20 s before the weights move back: ~100/s × 20 s of 503s.
    late = run_lesson("06-blast-radius-all-at-once.yaml", "deployment.rollback_reroute_delay=20s")
    assert late.summary["outcome"] == "ROLLED_BACK"
    assert 1800 < late.summary["requests_503"] < 2200
    assert run_lesson("06-blast-radius-all-at-once.yaml").summary["requests_503"] == 0

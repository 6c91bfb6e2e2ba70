"""The controllers' rules that mutation testing found untested (mutation/README.md).

One rule per test: a probe's verdict (error rate and p99 against its limits, the listener it
goes through); the ECS schedule's errors and counts; the event names of each controller's
lifecycle (AWS's names, which the plots and the narration read) and its closing event, which
says why; when monitors start and stop; alarms watched from the instant they are. The
end-to-end runs are small (a few tasks, minutes of simulated time).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import five_xx_alarm, health_checks, service

from bluegreen_sim import simulate
from bluegreen_sim.aws.controllers.codedeploy import shift_schedule
from bluegreen_sim.aws.controllers.ecs import ecs_shift_schedule, linear_step_count
from bluegreen_sim.aws.controllers.hooks import _body, _probe
from bluegreen_sim.engine.simulation import World
from bluegreen_sim.scenario import HookSpec, scenario_from_dict

# -- a probe's verdict --------------------------------------------------------------------


class _FakeSource:
    finished = "finished"  # what the probe waits for; never looked at here

    def __init__(self, status, latency, revision):
        self._results = (np.asarray(status), np.asarray(latency), np.asarray(revision))

    def results(self):
        return self._results


def _verdict(spec: HookSpec, *, status, latency, revision=None, test_listener=True, routed=True):
    """Run the probe against a fake data plane that answers ``status`` and ``latency``;
    return its HookResult and the listener the probe asked for."""
    sent = {}
    revision = np.ones(len(status), int) if revision is None else revision

    def send_test_traffic(times, via):
        sent["times"], sent["via"] = times, via
        return _FakeSource(status, latency, revision)

    world = SimpleNamespace(
        listener=SimpleNamespace(has_test_listener=test_listener, test_traffic_to_green=routed),
        dataplane=SimpleNamespace(computed_until=30.0, send_test_traffic=send_test_traffic),
    )
    probe = _probe(world, spec)
    next(probe)  # waits for the source to finish
    with pytest.raises(StopIteration) as done:
        probe.send(None)
    return done.value.value, sent


def _probe_spec(**fields):
    return HookSpec(kind="probe", requests=100, rate=10, **fields)


@pytest.mark.parametrize(("errors", "ok"), [(0, True), (3, True), (4, False), (100, False)])
def test_a_probe_fails_when_its_error_rate_exceeds_the_limit(errors, ok):
    status = np.array([500] * errors + [200] * (100 - errors))
    result, sent = _verdict(
        _probe_spec(max_error_rate=0.03), status=status, latency=np.full(100, 0.01)
    )
    # 3 % is the limit itself: not exceeded
    assert result.ok is ok
    assert result.status == ("Succeeded" if ok else "Failed")  # CodeDeploy's status values
    # 100 requests from the data plane's present at ``rate`` per second
    assert sent["times"][0] == 30.0 and np.allclose(np.diff(sent["times"]), 0.1)


def test_a_probes_p99_is_the_99th_percentile_not_the_maximum_and_the_limit_is_allowed():
    latency = np.concatenate((np.full(98, 0.010), [0.100, 1.0]))
    status = np.full(100, 200)
    p99 = float(np.percentile(latency, 99))
    assert 0.100 < p99 < 1.0
    for limit, ok in [(0.5, True), (p99, True), (np.nextafter(p99, 0), False), (0.05, False)]:
        result, _ = _verdict(_probe_spec(max_p99=limit), status=status, latency=latency)
        assert result.ok is ok, limit
    # without a p99 limit latency does not matter
    assert _verdict(_probe_spec(), status=status, latency=latency * 100)[0].ok


@pytest.mark.parametrize(
    ("test_listener", "routed", "via"),
    [(True, True, "test"), (True, False, "production"), (False, True, "production")],
)
def test_a_probe_uses_the_test_listener_only_once_it_routes_to_green(test_listener, routed, via):
    # before AllowTestTraffic (or without a test listener) probes go through production
    _, sent = _verdict(
        _probe_spec(),
        status=np.full(100, 200),
        latency=np.full(100, 0.01),
        test_listener=test_listener,
        routed=routed,
    )
    assert sent["via"] == via


# -- the ECS schedule ----------------------------------------------------------------------


def test_linear_step_count_is_a_whole_number_of_steps():
    for step in (3, 10, 11, 25, 33.3, 50, 100):
        assert type(linear_step_count(step)) is int


@pytest.mark.parametrize("step", [0, -5])
def test_linear_step_count_refuses_a_step_that_is_not_positive(step):
    with pytest.raises(ValueError, match=r"^step_percent must be > 0$"):
        linear_step_count(step)


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ("LINEAR", r"^LINEAR needs a linear configuration$"),
        ("CANARY", r"^CANARY needs a canary configuration$"),
        ("ROLLING", r"^unknown ECS deployment strategy 'ROLLING'$"),
    ],
)
def test_the_ecs_schedule_says_what_it_misses(strategy, message):
    with pytest.raises(ValueError, match=message):
        ecs_shift_schedule(strategy)


# -- the CodeDeploy schedule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("TimeBasedCanary", 100.5, 60), r"^percentage must be in \(0, 100\], got 100\.5$"),
        (("TimeBasedLinear", 0, 60), r"^percentage must be in \(0, 100\], got 0$"),
        (("TimeBasedCanary", 10, -1), r"^interval must be >= 0, got -1$"),
        (
            ("Blue", 10, 60),
            r"^unknown traffic routing type 'Blue'; expected AllAtOnce, TimeBasedCanary "
            r"or TimeBasedLinear$",
        ),
    ],
)
def test_a_bad_codedeploy_schedule_says_what_is_wrong(args, message):
    with pytest.raises(ValueError, match=message):
        shift_schedule(*args)


def test_a_canary_of_100_percent_is_one_shift_at_once():
    assert shift_schedule("TimeBasedCanary", 100, 300) == [(0.0, 100.0)]
    assert shift_schedule("TimeBasedCanary", 99.9, 300) == [(0.0, 99.9), (300.0, 100.0)]


@pytest.mark.parametrize("interval", [0, 0.5])
def test_a_codedeploy_interval_may_be_zero_or_under_a_second(interval):
    assert shift_schedule("TimeBasedCanary", 10, interval) == [(0.0, 10.0), (interval, 100.0)]


# -- end to end: small deployments ---------------------------------------------------------

GREEN_5XX = five_xx_alarm("green-5xx", target_group="green", threshold=5)
# Always in ALARM from its first evaluation (60 s) on: blue serves far fewer requests.
ALWAYS_ALARM = {
    "name": "always",
    "metric": "RequestCount",
    "target_group": "blue",
    "statistic": "Sum",
    "period": "60s",
    "evaluation_periods": 1,
    "threshold": 1e9,
    "comparison": "LessThanThreshold",
    "treat_missing_data": "breaching",
}


def _run(deployment: dict, *, duration="6m", seed=1, **extra):
    raw = {
        "name": "controller-gaps",
        "duration": duration,
        "load": {"rps": 20},
        "service": service(3, mean=0.01, startup=20),
        "load_balancer": {
            "deregistration_delay": "5s",
            "test_listener": True,
            "health_check": health_checks(10, healthy_threshold=2),
        },
        "alarms": [GREEN_5XX, ALWAYS_ALARM],
        "deployment": {"start": "30s", **deployment},
        **extra,
    }
    return simulate(scenario_from_dict(raw), seed=seed)


def _events(result, source):
    ev = result.events
    ev = ev[(ev.source == source) & ~ev.event.str.startswith("task ")]
    return list(zip(ev.time_s, ev.event, ev.detail, strict=True))


def _closing_event_says_why(result, source):
    """The controller's last event is the outcome of a failed deployment, and says why."""
    _, event, detail = _events(result, source)[-1]
    outcome = result.summary["outcome"]
    assert event == f"deployment {outcome.lower().replace('_', ' ')}"
    assert detail == result.summary["outcome_reason"]
    assert detail is not None
    if outcome == "ROLLED_BACK":
        started = [d for _, e, d in _events(result, source) if e == "rollback started"]
        assert started == [detail]


def test_ecs_reports_the_rollback_successful_when_green_is_scaled_to_zero():
    # A bad green all at once; the alarm rolls back; green drains for the 5-s deregistration
    # delay before its tasks stop, and only then is the rollback successful.
    result = _run(
        {"controller": "ecs", "bake_time": "3m", "alarms": ["green-5xx"]},
        green={"error_rate": 0.5},
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK" and s["outcome_reason"] == "alarm green-5xx in ALARM"
    ev = result.events
    green_stops = ev[(ev.event == "task stopped") & ev.detail.str.startswith("green-")]
    last_stop = green_stops.time_s.max()
    assert last_stop > s["rollback_start_s"]
    assert s["deployment_end_s"] >= last_stop and s["deployment_end_s"] - last_stop < 1
    names = [e for _, e, _ in _events(result, "ecs")]
    assert names[names.index("alarm detected") :] == [
        "alarm detected",
        "ROLLBACK_REQUESTED",
        "rollback started",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
        "deployment rolled back",
    ]
    assert [d for _, e, d in _events(result, "ecs") if e == "ROLLBACK_REQUESTED"] == [
        s["outcome_reason"]
    ]
    _closing_event_says_why(result, "ecs")


CRASH_LOOP = {
    "kind": "crash_loop",
    "revision": "green",
    "uptime": {"distribution": "constant", "value": "5s"},
}


@pytest.mark.parametrize("rollback", [True, False])
def test_the_circuit_breaker_trips_once_and_says_so(rollback):
    result = _run(
        {"controller": "ecs", "circuit_breaker": {"rollback": rollback}},
        faults=[CRASH_LOOP],
        duration="3m",
    )
    s = result.summary
    assert s["outcome"] == ("ROLLED_BACK" if rollback else "FAILED")
    assert s["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    names = [e for _, e, _ in _events(result, "ecs")]
    assert names.count("circuit breaker TRIGGERED") == 1
    after = names[names.index("circuit breaker TRIGGERED") + 1 :]
    if rollback:
        assert after[:2] == ["ROLLBACK_REQUESTED", "rollback started"]
    else:
        assert after == ["no rollback", "deployment failed"]
        no_rollback = [d for _, e, d in _events(result, "ecs") if e == "no rollback"]
        assert no_rollback == [f"{s['outcome_reason']}; components stay as they are"]
    _closing_event_says_why(result, "ecs")


@pytest.mark.parametrize(
    ("deployment", "monitored"),
    [
        ({"alarms": ["green-5xx"], "circuit_breaker": {"enable": False}}, True),
        ({"circuit_breaker": {"enable": True}}, True),
        ({"circuit_breaker": {"enable": False}}, False),
    ],
)
def test_ecs_ends_its_monitors_at_clean_up_only_if_it_had_any(deployment, monitored):
    result = _run({"controller": "ecs", "bake_time": "1m", **deployment}, duration="4m")
    assert result.summary["outcome"] == "SUCCEEDED"
    events = _events(result, "ecs")
    names = [e for _, e, _ in events]
    assert ("monitors MONITORING_COMPLETE" in names) is monitored
    if monitored:
        # at CLEAN_UP: from then on the deployment cannot be rolled back
        assert names.index("monitors MONITORING_COMPLETE") == names.index("CLEAN_UP started") + 1
    assert names[-1] == "deployment succeeded"


@pytest.mark.parametrize(
    ("deployment", "text"),
    [
        ({}, "strategy BLUE_GREEN, bake time 1m"),
        (
            {"strategy": "LINEAR", "linear": {"step_percent": 10, "step_bake_time": "90s"}},
            "strategy LINEAR 10% every 1.5m, bake time 1m",
        ),
        (
            {"strategy": "CANARY", "canary": {"canary_percent": 5, "canary_bake_time": "10m"}},
            "strategy CANARY 5% then 100% after 10m, bake time 1m",
        ),
    ],
)
def test_the_ecs_deployment_starts_by_naming_its_strategy_in_minutes(deployment, text):
    result = _run({"controller": "ecs", "bake_time": "1m", **deployment}, duration="40s")
    assert _events(result, "ecs")[0][1:] == ("deployment started", text)


def test_an_alarm_already_in_alarm_stops_a_steps_deployment_the_moment_it_is_watched():
    # The alarm is in ALARM from 60 s on; the steps controller watches it once green is
    # healthy (about 60 s), and stops at the first shift, not a poll later.
    result = _run(
        {
            "controller": "steps",
            "alarms": ["always"],
            "steps": [{"weight": 20, "pause": "2m"}, {"weight": 100}],
        },
        duration="3m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "alarm always during step 1"
    assert s["rollback_start_s"] == s["production_traffic_s"]
    _closing_event_says_why(result, "steps")


def test_a_steps_deployment_without_rollback_stops_and_says_why():
    result = _run(
        {
            "controller": "steps",
            "alarms": ["always"],
            "rollback_on_failure": False,
            "steps": [{"weight": 20, "pause": "2m"}, {"weight": 100}],
        },
        duration="3m",
    )
    s = result.summary
    assert s["outcome"] == "FAILED" and s["rollback_start_s"] is None
    assert s["outcome_reason"] == "alarm always during step 1"
    no_rollback = [d for _, e, d in _events(result, "steps") if e == "no rollback"]
    assert no_rollback == [f"{s['outcome_reason']}; components stay as they are"]
    _closing_event_says_why(result, "steps")


@pytest.mark.parametrize(
    ("hook", "outcome", "reason"),
    [
        (
            "BeforeInstall",
            "FAILED",
            "BeforeInstall hook failed (a rollback is not possible at this point)",
        ),
        ("AfterInstall", "ROLLED_BACK", "AfterInstall hook failed"),
    ],
)
def test_a_failed_codedeploy_hook_names_itself_and_whether_it_could_roll_back(
    hook, outcome, reason
):
    hooks = {hook: {"kind": "lambda", "duration": "5s", "outcome": "Failed"}}
    result = _run(
        {"controller": "codedeploy", "hooks": hooks, "auto_rollback": ["DEPLOYMENT_FAILURE"]},
        duration="3m",
    )
    assert result.summary["outcome"] == outcome
    assert result.summary["outcome_reason"] == reason
    _closing_event_says_why(result, "codedeploy")


def test_a_failed_hook_at_the_test_traffic_shift_rolls_back_before_production_traffic():
    hooks = {"TEST_TRAFFIC_SHIFT": {"kind": "lambda", "duration": "5s", "outcome": "Failed"}}
    result = _run({"controller": "ecs", "hooks": hooks}, duration="3m")
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "TEST_TRAFFIC_SHIFT hook failed"
    assert s["requests_green"] == 0 and s["production_traffic_s"] is None
    _closing_event_says_why(result, "ecs")


@pytest.mark.parametrize(
    ("deployment", "crash_after", "outcome"),
    [
        # succeeds; green crashes 30 s after CLEAN_UP (1-min bake)
        ({"bake_time": "1m"}, {"after": "full_traffic", "at": "90s"}, "SUCCEEDED"),
        # an alarm fails it without rollback at its first poll after 60 s; green crashes at 150 s
        ({"alarms": ["always"], "alarm_rollback": False}, {"at": "150s"}, "FAILED"),
    ],
)
def test_the_circuit_breaker_counts_nothing_once_the_deployment_is_over(
    deployment, crash_after, outcome
):
    crash = {"kind": "crash", "revision": "green", **crash_after}
    result = _run(
        {"controller": "ecs", "circuit_breaker": {"counting": "every_stop"}, **deployment},
        faults=[crash],
        duration="4m",
    )
    s = result.summary
    assert s["outcome"] == outcome
    ev = result.events
    crashed = ev[(ev.event == "task stopped") & ev.detail.str.contains("crash")]
    assert len(crashed) and (crashed.time_s > s["deployment_end_s"]).all()
    late = ev[(ev.source == "ecs") & (ev.time_s > s["deployment_end_s"])]
    assert not late.event.str.startswith("circuit breaker").any()


def test_a_reroute_delay_moves_production_traffic_back_that_long_after_green_is_scaled_down():
    # 1 s, the smallest delay that is one: green's half of the traffic meets no target meanwhile
    result = _run(
        {
            "controller": "steps",
            "alarms": ["green-5xx"],
            "rollback_reroute_delay": "1s",
            "steps": [{"weight": 50, "pause": "3m"}, {"weight": 100}],
        },
        green={"error_rate": 0.5},
        duration="3m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    ev = result.events
    back = ev[(ev.event == "production traffic shifted") & ev.detail.str.startswith("green 0%")]
    assert list(back.time_s) == [s["rollback_start_s"] + 1]
    assert s["requests_503"] > 0
    delayed = [t for t, e, _ in _events(result, "steps") if e == "reroute to blue delayed"]
    assert delayed == [s["rollback_start_s"]]
    _closing_event_says_why(result, "steps")


def test_ecs_scale_up_fails_at_the_install_timeout_itself():
    # green never healthy (crash loop, breaker off); 45.5 s is off the controller's 1-s polls
    result = _run(
        {"controller": "ecs", "install_timeout": "45.5s", "circuit_breaker": {"enable": False}},
        faults=[CRASH_LOOP],
        duration="2m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "green did not reach steady state within 45.5s"
    assert s["rollback_start_s"] == s["deployment_start_s"] + 45.5


def test_the_circuit_breaker_fails_the_deployment_the_moment_it_trips():
    # green runs 20 s after the start and crashes 5.5 s later, between two 1-s polls
    loop = {**CRASH_LOOP, "uptime": {"distribution": "constant", "value": "5.5s"}}
    result = _run({"controller": "ecs"}, faults=[loop], duration="2m")
    s = result.summary
    assert s["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    assert s["rollback_start_s"] == s["deployment_start_s"] + 20 + 5.5


def test_ecs_scale_up_ends_within_a_second_of_the_last_green_task_turning_healthy():
    result = _run({"controller": "ecs", "bake_time": "1m"}, duration="2m")
    ev = result.events
    healthy = ev[(ev.event == "target healthy") & ev.detail.str.startswith("green-")]
    steady = [t for t, e, _ in _events(result, "ecs") if e == "POST_SCALE_UP started"]
    assert len(healthy) == 3 and len(steady) == 1
    assert 0 < steady[0] - healthy.time_s.max() <= 1


def test_a_steps_deployment_fails_at_the_install_timeout_itself():
    result = _run(
        {"controller": "steps", "install_timeout": "45.5s", "steps": [{"weight": 100}]},
        faults=[CRASH_LOOP],
        duration="2m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "green task set never became healthy"
    assert s["rollback_start_s"] == s["deployment_start_s"] + 45.5
    assert s["requests_green"] == 0


def test_a_steps_deployment_shifts_within_a_second_of_the_last_green_task_turning_healthy():
    result = _run(
        {"controller": "steps", "steps": [{"weight": 10, "pause": "1m"}, {"weight": 100}]},
        duration="2m",
    )
    ev = result.events
    healthy = ev[(ev.event == "target healthy") & ev.detail.str.startswith("green-")]
    assert len(healthy) == 3
    assert 0 < result.summary["production_traffic_s"] - healthy.time_s.max() <= 1
    # and it starts by naming its steps
    assert _events(result, "steps")[0][1:] == ("deployment started", "steps 10% → 100%")


def test_an_alarm_during_the_analysis_hook_fails_the_step_once_the_hook_is_done():
    analysis = {"kind": "lambda", "duration": "5s"}
    result = _run(
        {
            "controller": "steps",
            "alarms": ["always"],
            "hooks": {"analysis": analysis},
            "steps": [{"weight": 20, "pause": "2m"}, {"weight": 100}],
        },
        duration="3m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK" and s["outcome_reason"] == "alarm always"
    assert s["rollback_start_s"] == s["production_traffic_s"] + 5
    _closing_event_says_why(result, "steps")


# -- a Lambda hook's report -------------------------------------------------------------------


def _lambda_report(spec: HookSpec, seed=1):
    """Run one Lambda hook alone in a small world; its HookResult."""
    sc = scenario_from_dict(
        {"duration": 60, "load": {"rps": 1}, "service": service(1, mean=0.01, startup=5)}
    )
    world = World(sc, seed, False)
    proc = world.env.process(_body(world, spec))
    world.env.run(until=proc)
    assert world.env.now == spec.duration
    return proc.value


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"failure_probability": 0.0}, "Succeeded"),
        ({"failure_probability": 1.0}, "Failed"),
        ({"outcome": "Failed"}, "Failed"),
        ({}, "Succeeded"),
    ],
)
def test_a_lambda_hook_reports_codedeploys_status_values(fields, status):
    result = _lambda_report(HookSpec(kind="lambda", duration=5, **fields))
    assert result.status == status and result.ok is (status == "Succeeded")


def test_a_lambda_hook_fails_with_its_failure_probability():
    reports = [
        _lambda_report(HookSpec(kind="lambda", duration=1, failure_probability=0.5), seed).ok
        for seed in range(40)
    ]
    assert 5 < sum(reports) < 35  # about half, and never all one way (binomial, p ≈ 1e-4)


# -- CodeDeploy: the ready wait and the termination wait --------------------------------------


def _ready(seed=1, **ready_wait):
    return _run(
        {
            "controller": "codedeploy",
            "termination_wait": "1m",
            "alarms": ready_wait.pop("alarms", []),
            "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
            "ready_wait": {"action_on_timeout": "STOP_DEPLOYMENT", **ready_wait},
        },
        duration="6m",
        seed=seed,
    )


def _ready_wait_start(result) -> float:
    # the wait follows AfterAllowTestTraffic at once
    return next(
        t for t, e, _ in _events(result, "codedeploy") if e == "AfterAllowTestTraffic succeeded"
    )


def test_nobody_continuing_stops_the_deployment_and_says_why():
    result = _ready(wait="2m")
    s = result.summary
    assert s["outcome"] == "STOPPED"
    assert s["outcome_reason"] == "nobody continued the deployment within the ready wait (2m)"
    assert s["deployment_end_s"] == _ready_wait_start(result) + 120
    _closing_event_says_why(result, "codedeploy")


def test_continuing_at_the_end_of_the_ready_wait_is_in_time():
    start = _ready_wait_start(_ready(wait="2m"))
    result = _ready(wait="2m", continue_at=start + 120)
    assert result.summary["outcome"] == "SUCCEEDED"
    assert result.summary["production_traffic_s"] == start + 120


def test_a_continue_given_before_the_ready_wait_lets_traffic_move_at_once():
    result = _ready(wait="2m", continue_at=0)
    assert result.summary["outcome"] == "SUCCEEDED"
    assert result.summary["production_traffic_s"] == _ready_wait_start(result)


def test_an_alarm_during_the_ready_wait_names_the_ready_wait():
    result = _ready(wait="5m", alarms=["always"])
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "alarm always in ALARM during the ready wait"
    # no lifecycle event was in progress: none is reported stopped
    names = [e for _, e, _ in _events(result, "codedeploy")]
    assert names[names.index("alarm detected") :] == [
        "alarm detected",
        "rollback started",
        "deployment rolled back",
    ]
    _closing_event_says_why(result, "codedeploy")


# -- ECS rolling update ---------------------------------------------------------------------


def _bad_rolling(**deployment):
    from test_rolling import _alarm, _rolling

    raw = _rolling(100, 200, alarms=[_alarm()])
    raw["deployment"].update({"alarms": ["lb-5xx"], "bake_time": "5m", **deployment})
    raw["faults"] = [{"kind": "error_rate", "revision": "green", "error_rate": 0.1}]
    return simulate(scenario_from_dict(raw))


def _first_green_healthy(result) -> float:
    ev = result.events
    return ev[(ev.event == "target healthy") & ev.detail.str.startswith("green-")].time_s.min()


def test_a_rolling_rollback_reports_when_it_started_and_what_it_detected():
    result = _bad_rolling()
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["deployment_start_s"] < s["rollback_start_s"] < s["deployment_end_s"]
    assert s["time_to_detect_s"] == pytest.approx(
        s["rollback_start_s"] - s["first_faulty_green_request_s"]
    )
    # production traffic reaches the new revision when its first task is healthy
    assert s["production_traffic_s"] == _first_green_healthy(result)
    names = [e for _, e, _ in _events(result, "ecs") if e != "rolling batch"]
    assert names[names.index("alarm detected") :] == [
        "alarm detected",
        "ROLLBACK_REQUESTED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
        "deployment rolled back",
    ]
    requested = [d for _, e, d in _events(result, "ecs") if e == "ROLLBACK_REQUESTED"]
    assert requested == [s["outcome_reason"]]
    assert _events(result, "ecs")[-1][1:] == ("deployment rolled back", s["outcome_reason"])


def test_a_rolling_update_without_rollback_stops_where_it_is():
    result = _bad_rolling(alarm_rollback=False)
    s = result.summary
    assert s["outcome"] == "FAILED" and s["rollback_start_s"] is None
    assert s["outcome_reason"] == "alarm lb-5xx in ALARM"
    _closing_event_says_why(result, "ecs")
    no_rollback = [d for _, e, d in _events(result, "ecs") if e == "no rollback"]
    assert no_rollback == [f"{s['outcome_reason']}; components stay as they are"]
    # the new revision's tasks stay in service
    assert result.timeline["healthy_green"].iloc[-1] > 0


def test_a_rolling_update_reaches_full_traffic_when_no_old_task_is_left():
    from test_rolling import _rolling

    result = simulate(scenario_from_dict(_rolling(100, 200)))
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    assert s["production_traffic_s"] == _first_green_healthy(result)
    assert s["production_traffic_s"] < s["full_traffic_s"] <= s["deployment_end_s"]
    ev = result.events
    # the last old task leaves the target group (starts draining) then
    draining = ev[(ev.event == "target draining") & ev.detail.str.startswith("blue-")]
    assert s["full_traffic_s"] == draining.time_s.max()


def test_a_codedeploy_install_fails_at_its_timeout_itself():
    result = _run(
        {
            "controller": "codedeploy",
            "install_timeout": "45.5s",
            "auto_rollback": ["DEPLOYMENT_FAILURE"],
        },
        faults=[CRASH_LOOP],
        duration="2m",
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "green task set never became healthy"
    assert s["rollback_start_s"] == s["deployment_start_s"] + 45.5


@pytest.mark.parametrize(
    ("deployment", "text"),
    [
        (
            {"config": "CodeDeployDefault.ECSAllAtOnce"},
            "config CodeDeployDefault.ECSAllAtOnce",
        ),
        (
            {
                "config": {"type": "TimeBasedCanary", "percentage": 10, "interval": "5m"},
                "auto_rollback": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
                "alarms": ["green-5xx", "always"],
            },
            "config custom TimeBasedCanary 10%, the rest after 5m; auto rollback on "
            "DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM; alarms green-5xx, always",
        ),
        (
            {"config": {"type": "TimeBasedLinear", "percentage": 20, "interval": "2m"}},
            "config custom TimeBasedLinear 20% every 2m",
        ),
    ],
)
def test_a_codedeploy_deployment_starts_by_naming_its_configuration(deployment, text):
    result = _run({"controller": "codedeploy", **deployment}, duration="40s")
    assert _events(result, "codedeploy")[0][1:] == ("deployment started", text)


def test_a_probe_before_the_test_traffic_shift_meets_blue_and_one_after_it_meets_green():
    # Green fails 90 % of requests. ECS routes the test listener to green only at
    # TEST_TRAFFIC_SHIFT: a probe at POST_SCALE_UP still meets blue and passes; the same probe
    # at TEST_TRAFFIC_SHIFT meets green and fails the deployment.
    probe = {"kind": "probe", "requests": 20, "rate": 10, "max_error_rate": 0.05}
    raw = {
        "duration": "4m",
        "load": {"rps": 4},
        "service": service(2, mean=0.01, startup=20),
        "green": {"error_rate": 0.9},
        "load_balancer": {
            "test_listener": True,
            "deregistration_delay": "5s",
            "health_check": health_checks(10, healthy_threshold=2),
        },
        "deployment": {
            "controller": "ecs",
            "start": "30s",
            "hooks": {"POST_SCALE_UP": probe, "TEST_TRAFFIC_SHIFT": probe},
        },
    }
    result = simulate(scenario_from_dict(raw), seed=1)
    hooks = {e: d for _, e, d in _events(result, "hook")}
    assert "(0 reached green)" in hooks["POST_SCALE_UP succeeded"]
    assert "(20 reached green)" in hooks["TEST_TRAFFIC_SHIFT failed"]
    assert result.summary["outcome"] == "ROLLED_BACK"

"""AWS behaviours the first model got wrong, each on a small scenario (AWS_FACTS, Corrections).

One test (or a pair) per rule, each expecting what the documentation implies:

* unhealthy tasks are replaced first, then stopped, so a health-check fault on every green
  target leaves the ALB failing open and the (still answering) application serving;
* the circuit breaker counts tasks that stop before they were ever healthy, not a green that
  crashes after it was healthy: that one is an alarm's job, on the ELB's 5XX count;
* a new target needs the healthy threshold's number of passing checks;
* with keep-alive clients a deregistering target drains for the full delay;
* Fargate bills from the image pull, by the second, one minute at least; ECS stops a drained
  task with SIGTERM and kills it ``stop_timeout`` later;
* the health-check grace period: without one, a slow-starting application is replaced before
  it ever answers (a restart loop).
"""

from __future__ import annotations

import copy

import pytest

from bluegreen_sim import simulate
from bluegreen_sim.engine.simulation import World
from bluegreen_sim.scenario import scenario_from_dict

BASE = {
    "name": "corrections",
    "duration": "12m",
    "load": {"rps": 50},
    "service": {
        "tasks": 4,
        "startup": {"distribution": "constant", "value": "20s"},
        "latency": {"distribution": "lognormal", "median": "20ms", "p99": "80ms"},
    },
    "load_balancer": {
        "deregistration_delay": "10s",
        "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
    },
    "deployment": {"controller": "ecs", "start": "30s", "bake_time": "8m"},
}


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        # a distribution is replaced whole: another family's parameters are refused
        if (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and "distribution" not in value
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def scenario(extra: dict | None = None):
    return scenario_from_dict(_merge(BASE, extra or {}), "corrections")


def run(extra: dict | None = None, seed: int = 1, requests: bool = False):
    return simulate(scenario(extra), seed=seed, record_requests=requests)


def events(result, name: str):
    ev = result.events
    return ev[ev["event"] == name]


# --------------------------------------------------------------------------------------------
# 1. Unhealthy tasks: replacement first, then stop


HEALTH_FAULT = {
    "kind": "health_check",
    "revision": "green",
    "after": "full_traffic",
    "at": "1m",
    "duration": "2m",
}
# The fault also fails the replacements' checks, so they stop before they were ever healthy and
# the circuit breaker would roll back: switched off here to watch the replacement alone.
NO_BREAKER = {"deployment": {"circuit_breaker": {"enable": False}}}


def test_health_check_fault_on_all_green_targets_fails_almost_no_requests():
    result = run({"faults": [HEALTH_FAULT], **NO_BREAKER}, requests=True)
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    # Every green target goes unhealthy; ECS marks each for replacement and keeps it...
    assert len(events(result, "task marked for replacement")) >= 4
    req = result.requests
    start = s["full_traffic_s"] + 60
    during = req[(req["arrival_s"] >= start) & (req["arrival_s"] < start + 120)]
    assert len(during) > 5000
    # ...so the ALB fails open and the application, which still answers, serves nearly all.
    assert (during["status"] != 200).sum() <= 0.001 * len(during)
    assert s["requests_503"] == 0
    # The unhealthy → healthy branch: kept targets pass the healthy threshold again.
    back = events(result, "target healthy")
    assert back["detail"].str.contains("consecutive checks passed").any()
    # minimumHealthyPercent 100: the 4 desired green tasks stay RUNNING from the shift on.
    tl = result.timeline
    assert tl[tl["time_s"] >= s["full_traffic_s"]]["running_green"].min() >= 4


def test_health_check_fault_stop_first_loses_the_green_group():
    # maximumPercent 100 leaves no room to start replacements first and minimumHealthyPercent 0
    # lets ECS stop every unhealthy task: green has no target until the replacements are up.
    stop_first = {"service": {"minimum_healthy_percent": 0, "maximum_percent": 100}}
    result = run(_merge(NO_BREAKER, {"faults": [HEALTH_FAULT], **stop_first}))
    assert result.summary["requests_503"] > 1000


def test_codedeploy_task_set_replacement_is_a_parameter():
    extra = {
        "faults": [HEALTH_FAULT],
        "deployment": {
            "controller": "codedeploy",
            "bake_time": None,  # an ECS-native setting: CodeDeploy refuses it
            "termination_wait": "8m",
            "task_set_replacement": "stop_first",
        },
    }
    stop_first = run(extra).summary
    extra["deployment"]["task_set_replacement"] = "replace_first"
    replace_first = run(extra).summary
    assert stop_first["requests_503"] > 1000
    assert replace_first["requests_503"] == 0
    assert replace_first["requests_failed"] < stop_first["requests_failed"] / 100


def test_a_recovered_marked_task_is_still_stopped_once_its_replacement_is_healthy():
    result = run({"faults": [HEALTH_FAULT], **NO_BREAKER})
    stopped = events(result, "task stopped")
    gone = stopped[stopped["detail"].str.contains("unhealthy: failed ELB health checks")]
    assert len(gone) >= 4
    # After the fault every green target ends healthy and the task set is back to 4 tasks.
    tl = result.timeline
    assert tl["healthy_green"].iloc[-1] == 4 and tl["running_green"].iloc[-1] == 4


# --------------------------------------------------------------------------------------------
# 2. The circuit breaker counts tasks that never became healthy

# Green tasks that crash 40 s after they start, long after passing two checks 5 s apart.
LATE_CRASH = {
    "kind": "crash_loop",
    "revision": "green",
    "after": "production_traffic",
    "uptime": {"distribution": "constant", "value": "40s"},
}
ALARMS = [
    {
        "name": "target-5xx",
        "metric": "HTTPCode_Target_5XX_Count",
        "target_group": "green",
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 1,
        "threshold": 5,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    },
    {
        "name": "elb-5xx",
        "metric": "HTTPCode_ELB_5XX_Count",
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 1,
        "threshold": 5,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    },
]


def test_a_green_that_crashes_after_it_was_healthy_is_caught_by_an_elb_5xx_alarm():
    result = run(
        {
            "faults": [LATE_CRASH],
            "alarms": ALARMS,
            "deployment": {"alarms": ["target-5xx", "elb-5xx"]},
        }
    )
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "alarm elb-5xx in ALARM"
    assert s["alarms_fired"] == ["elb-5xx"]  # crashes are 502/503, never a target 5XX
    assert s["requests_500"] == 0 and s["requests_502"] + s["requests_503"] > 5
    assert len(events(result, "circuit breaker count")) == 0
    assert len(events(result, "circuit breaker ignores")) >= 4


def test_every_stop_counting_trips_the_breaker_on_the_same_green():
    result = run(
        {
            "faults": [LATE_CRASH],
            "deployment": {"circuit_breaker": {"counting": "every_stop"}},
        }
    )
    assert result.summary["outcome"] == "ROLLED_BACK"
    assert result.summary["outcome_reason"].startswith("circuit breaker: 3 failed task(s)")


def test_with_only_the_breaker_a_late_crashing_green_is_never_rolled_back():
    result = run({"faults": [LATE_CRASH], "duration": "8m"})
    assert result.summary["outcome"] == "IN_PROGRESS"  # still baking, never stopped
    assert len(events(result, "circuit breaker TRIGGERED")) == 0
    assert result.summary["requests_failed"] > 0


# --------------------------------------------------------------------------------------------
# 3. A new target needs the healthy threshold


@pytest.mark.parametrize(("initial_checks", "passes"), [(None, 4), (1, 1)])
def test_a_new_target_needs_the_healthy_threshold_unless_told_otherwise(initial_checks, passes):
    hc = {"interval": "10s", "healthy_threshold": 4}
    if initial_checks is not None:
        hc["initial_checks"] = initial_checks
    result = run({"load_balancer": {"health_check": hc}})
    ev = result.events
    registered = ev[ev["event"] == "target registered"].iloc[0]
    name = registered["detail"].split(" ")[0]
    healthy = ev[(ev["event"] == "target healthy") & ev["detail"].str.startswith(name + ":")]
    # Probes at registration and every 10 s after: the n-th pass is (n - 1) x 10 s later.
    waited = healthy["time_s"].iloc[0] - registered["time_s"]
    assert (passes - 1) * 10 <= waited < (passes - 1) * 10 + 1
    assert f"passed {passes} initial check(s)" in healthy["detail"].iloc[0]


# --------------------------------------------------------------------------------------------
# 4. Deregistration with keep-alive clients; 5. stopping and billing


def _drain_times(result) -> list[float]:
    """Seconds from ``target draining`` to ``task stopped`` of each blue task."""
    ev = result.events
    out = []
    for i in range(1, 5):
        name = f"blue-{i}"
        drain = ev[(ev["event"] == "target draining") & ev["detail"].str.startswith(name + " ")]
        stop = ev[(ev["event"] == "task stopped") & ev["detail"].str.startswith(name + ":")]
        out.append(stop["time_s"].iloc[0] - drain["time_s"].iloc[0])
    return out


def test_keep_alive_clients_hold_a_draining_target_for_the_full_delay():
    extra = {"load_balancer": {"deregistration_delay": "60s"}, "deployment": {"bake_time": "2m"}}
    keep_alive = run(extra)
    extra["load_balancer"]["client_connections"] = "close"
    closing = run(extra)
    # Idle at the end of the delay: the task exits on SIGTERM at once.
    assert _drain_times(keep_alive) == pytest.approx([60.0] * 4)
    # Clients that close connections: deregistration ends when the last request is answered.
    assert max(_drain_times(closing)) < 1
    assert keep_alive.summary["vcpu_hours"] > closing.summary["vcpu_hours"]


def test_a_busy_task_gets_sigterm_then_sigkill_after_the_stop_timeout():
    # Every request takes 30 s; at the end of a 5 s delay each blue task still holds one. The
    # ALB answers it with a 502 then; the application works on until SIGKILL 10 s later.
    extra = {
        "load": {"rps": 1},
        "service": {
            "concurrency": 100,  # no queue: probes pass, requests overlap
            "latency": {"distribution": "constant", "value": "30s"},
            "stop_timeout": "10s",
        },
        "load_balancer": {"deregistration_delay": "5s"},
        "deployment": {"bake_time": "0s"},  # blue scales down right after the shift
    }
    result = run(extra)
    stopping = events(result, "task stopping")
    assert stopping["detail"].str.startswith("blue").sum() == 4
    assert _drain_times(result) == pytest.approx([15.0] * 4)
    assert result.summary["requests_502"] >= 4


def test_fargate_bills_from_the_image_pull_by_the_second_with_a_one_minute_minimum():
    # Blue tasks crash at 40 s, and every replacement 5 s after it runs: 2 s provisioning
    # (20 % of 10 s), 8 s pulling and starting, 5 s running: 13 s from its pull, billed 60 s.
    sc = scenario(
        {
            "duration": "100s",
            "service": {"startup": {"distribution": "constant", "value": "10s"}},
            "deployment": {"controller": "none"},
            "faults": [
                {
                    "kind": "crash_loop",
                    "revision": "blue",
                    "at": "40s",
                    "uptime": {"distribution": "constant", "value": "5s"},
                }
            ],
        }
    )
    world = World(sc, 3, False)
    world.run()
    blue = world.task_sets["blue"]
    short = [t for t in blue.tasks if t.stopped_at is not None and t.pulled_at > 0]
    assert short, "a replacement crashed"
    for t in short:
        assert t.stopped_at - t.pulled_at == pytest.approx(13.0)
    alive = [t for t in blue.tasks if t.stopped_at is None]
    first = [t for t in blue.tasks if t.stopped_at is not None and t.pulled_at == 0]
    expected = (
        60.0 * len(short)
        + sum(100 - t.pulled_at for t in alive)
        + sum(max(60, -(-t.stopped_at // 1)) for t in first)
    )
    assert blue.task_seconds(100.0) == pytest.approx(expected)
    # A task stopped while provisioning never pulled its image: it costs nothing.
    never = [t for t in blue.tasks if t.pulled_at is None]
    assert all(t.stopped_at is not None for t in never)


# --------------------------------------------------------------------------------------------
# 6. The health-check grace period


SLOW_APP = {
    "green": {"app_start": "90s"},
    "load_balancer": {
        "health_check": {
            "interval": "10s",
            "timeout": "5s",
            "healthy_threshold": 3,
            "unhealthy_threshold": 2,
        }
    },
    "deployment": {"circuit_breaker": {"enable": False}, "bake_time": "2m"},
    "duration": "10m",
}


def test_without_a_grace_period_a_slow_starting_green_restarts_forever():
    result = run(SLOW_APP)
    s = result.summary
    assert s["outcome"] == "IN_PROGRESS"  # SCALE_UP never ends
    ev = result.events
    replaced = ev[ev["detail"].str.contains("green-.*unhealthy: failed ELB health checks")]
    assert len(replaced) >= 8  # generation after generation
    healthy = events(result, "target healthy")
    assert not healthy["detail"].str.startswith("green").any()
    assert s["requests_green"] == 0


def test_a_grace_period_longer_than_start_up_plus_checks_ends_the_loop():
    result = run(_merge(SLOW_APP, {"service": {"health_check_grace_period": "120s"}}))
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    ev = result.events
    assert len(events(result, "unhealthy ignored")) >= 4
    assert not ev["detail"].str.contains("green-.*unhealthy: failed ELB health checks").any()
    # 20 s start-up, 90 s until the application answers, then three passing checks.
    healthy = events(result, "target healthy")
    green = healthy[healthy["detail"].str.startswith("green")]
    assert green["time_s"].min() >= 30 + 20 + 90 + 20


def test_requests_reaching_a_starting_application_are_refused_with_502():
    # Every blue task crashes at 30 s; the replacements (10 s start-up) run at 40 s but their
    # application answers only at 60 s. Until one is healthy the group fails open to them, and
    # what reaches them before 60 s is refused (502); from 60 s on they serve.
    sc = {
        "duration": "100s",
        "service": {
            "startup": {"distribution": "constant", "value": "10s"},
            "app_start": "20s",
            "health_check_grace_period": "60s",  # no restart loop: the replacements are kept
        },
        "deployment": {"controller": "none"},
        "faults": [{"kind": "crash", "revision": "blue", "at": "30s"}],
    }
    result = run(sc, requests=True)
    req = result.requests
    starting = req[(req["arrival_s"] >= 41) & (req["arrival_s"] < 59)]
    assert len(starting) > 500 and (starting["status"] == 502).all()
    served = req[req["arrival_s"] >= 61]
    assert len(served) > 1000 and (served["status"] == 200).all()

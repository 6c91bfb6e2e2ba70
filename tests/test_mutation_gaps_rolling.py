"""The ECS rolling update's rules that mutation testing found untested (mutation/README.md).

One rule per test: the bounds in exact integer arithmetic; the desired count is the service's;
the batches of a small update; exactly N new tasks; who makes up lost capacity during the
update (the new revision), during the rollback and after either (the revision that is the
service then); a new task failing its health checks is stopped and counted by the circuit
breaker; the controller acts within a second of a task turning healthy and at the instant a
monitor trips; the breaker counts nothing once the rollback has begun. The runs are small (two
tasks, constant start-up, a few simulated minutes).
"""

from __future__ import annotations

import pytest
from conftest import five_xx_alarm, health_checks, service

from bluegreen_sim import simulate
from bluegreen_sim.aws.controllers.rolling import rolling_bounds
from bluegreen_sim.scenario import scenario_from_dict

START = 30.0  # the deployment starts here


def _rolling(tasks=2, minimum=100, maximum=200, *, startup=20, delay=5, duration="3m", **extra):
    """A rolling update of ``tasks`` tasks at ``START``; ``extra`` adds or updates sections."""
    raw = {
        "name": "rolling-gaps",
        "duration": duration,
        "seed": 1,
        "load": {"rps": 10},
        "service": service(
            tasks,
            mean=0.01,
            startup=startup,
            minimum_healthy_percent=minimum,
            maximum_percent=maximum,
        ),
        "load_balancer": {
            "deregistration_delay": delay,
            "health_check": health_checks(5, healthy_threshold=2),
        },
        "deployment": {"controller": "ecs", "strategy": "ROLLING", "start": START},
    }
    deployment = extra.pop("deployment", {})
    raw["deployment"].update(deployment)
    raw.update(extra)
    return simulate(scenario_from_dict(raw))


# Any 5XX in a minute puts it in ALARM: a green answering 50 % errors trips it at the first
# minute's end after it is in service.
ANY_5XX = five_xx_alarm("any-5xx", threshold=0)


def _rolled_back(**extra):
    """A bad green (50 % errors) rolled back by the alarm during a 5-minute bake."""
    deployment = {"alarms": ["any-5xx"], "bake_time": "5m", **extra.pop("deployment", {})}
    result = _rolling(alarms=[ANY_5XX], green={"error_rate": 0.5}, deployment=deployment, **extra)
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK" and s["outcome_reason"] == "alarm any-5xx in ALARM"
    return result


def _events(result, event, prefix=""):
    ev = result.events
    return ev[(ev.event == event) & ev.detail.str.startswith(prefix)]


def _launched(result, revision):
    """The names of the tasks of ``revision`` started over the run, in order."""
    names = _events(result, "task provisioning", f"{revision}-").detail
    return [d.split(":")[0] for d in names]


# -- the bounds and the desired count --------------------------------------------------------


def test_the_bounds_are_the_exact_ceiling_and_floor_of_the_percentages():
    # ⌈N × min / 100⌉ and ⌊N × max / 100⌋ in integer arithmetic, for every percentage
    for n in range(1, 301):
        for minimum in range(101):
            assert rolling_bounds(n, minimum, 200)[0] == -(-n * minimum // 100), (n, minimum)
        for maximum in range(100, 201):
            assert rolling_bounds(n, 100, maximum)[1] == n * maximum // 100, (n, maximum)


def test_the_desired_count_is_the_services_not_the_new_revisions():
    # ECS's desired count belongs to the service: N old tasks are replaced by N new ones,
    # whatever ``tasks`` the new revision's spec says.
    result = _rolling(3, 100, 200, green={"tasks": 1})
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    assert _launched(result, "green") == ["green-1", "green-2", "green-3"]
    assert result.timeline["healthy_green"].iloc[-1] == 3
    started = _events(result, "deployment started").detail.iloc[0]
    assert started.endswith("minimum healthy 100% (3 task(s)), maximum 200% (6 task(s))")


# -- the batches -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "maximum", "batches"),
    [
        # 2 new tasks at once (ceiling 4), then both old ones as soon as the new are healthy
        (
            100,
            200,
            [
                "1: stop 0 blue, start 2 green (2 healthy)",
                "2: stop 2 blue, start 0 green (4 healthy)",
            ],
        ),
        # one old task stopped to make room (floor 1, ceiling 2), one at a time
        (
            50,
            100,
            [
                "1: stop 1 blue, start 1 green (2 healthy)",
                "2: stop 1 blue, start 1 green (2 healthy)",
            ],
        ),
    ],
)
def test_the_batches_of_a_small_update(minimum, maximum, batches):
    # Each batch says what ECS did: how many old tasks it stopped, how many new ones it
    # started, and how many tasks were healthy when it decided; numbered from 1.
    result = _rolling(2, minimum, maximum)
    assert result.summary["outcome"] == "SUCCEEDED"
    assert list(_events(result, "rolling batch").detail) == batches


def test_an_update_with_no_failure_starts_exactly_n_new_tasks_within_the_ceiling():
    result = _rolling(2, 100, 200)
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    assert _launched(result, "green") == ["green-1", "green-2"]
    assert _launched(result, "blue") == []  # blue-1 and blue-2 ran from the start
    assert s["peak_tasks"] <= 4


# -- who makes up lost capacity --------------------------------------------------------------

CRASH_BLUE = {"kind": "crash", "revision": "blue", "after": "deployment_start", "at": "5s"}


def test_an_old_task_crashing_during_the_update_is_made_up_by_the_new_revision():
    # Both old tasks crash 5 s into the update: no old-revision task starts again; the two
    # new tasks already starting are the service.
    result = _rolling(2, 100, 200, faults=[CRASH_BLUE])
    assert result.summary["outcome"] == "SUCCEEDED"
    crashed = _events(result, "task stopped", "blue-")
    assert len(crashed) == 2 and (crashed.time_s == START + 5).all()
    assert _launched(result, "blue") == []  # blue-1 and blue-2 ran from the start
    assert _launched(result, "green") == ["green-1", "green-2"]
    assert result.timeline["healthy_green"].iloc[-1] == 2


def test_after_the_update_a_crashed_new_task_is_replaced():
    # The new revision is the service once the update is over: ECS keeps it at N.
    crash = {"kind": "crash", "revision": "green", "at": "100s"}
    result = _rolling(2, 100, 200, faults=[crash])
    s = result.summary
    assert s["outcome"] == "SUCCEEDED" and s["deployment_end_s"] < 100
    assert _launched(result, "green") == ["green-1", "green-2", "green-3", "green-4"]
    assert result.timeline["healthy_green"].iloc[-1] == 2


def test_after_a_rollback_a_crashed_old_task_is_replaced():
    # The old revision is the service again once the rollback is over: ECS keeps it at N.
    crash = {"kind": "crash", "revision": "blue", "at": "150s"}
    result = _rolled_back(faults=[crash])
    assert result.summary["deployment_end_s"] < 150
    crashed = _events(result, "task stopped", "blue-")
    assert (crashed.detail.str.contains("crashed").sum()) == 2
    # blue-3 and blue-4 started by the rollback, two more for the crashed ones
    assert _launched(result, "blue") == ["blue-3", "blue-4", "blue-5", "blue-6"]
    assert result.timeline["healthy_blue"].iloc[-1] == 2


def test_a_new_task_failing_its_health_checks_is_stopped_and_counted_by_the_breaker():
    # During the update ECS stops a new task its target group marks unhealthy (it does not
    # count towards the minimum) and starts another; the circuit breaker counts each one.
    failing = {"kind": "health_check", "revision": "green", "probability": 1.0}
    result = _rolling(2, 100, 200, faults=[failing])
    s = result.summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    unhealthy = _events(result, "task stopped", "green-")
    assert unhealthy.detail.str.endswith("unhealthy: failed ELB health checks").sum() >= 3
    assert result.timeline["healthy_blue"].iloc[-1] == 2


# -- when the controller acts ----------------------------------------------------------------


# Two start-ups: the instant the new tasks turn healthy falls on either parity of the
# controller's whole-second polls (a 2-s poll would be late by more than a second on one).
@pytest.mark.parametrize("startup", [20, 21])
def test_an_old_task_is_stopped_within_a_second_of_a_new_one_turning_healthy(startup):
    result = _rolling(2, 100, 200, startup=startup)
    healthy = _events(result, "target healthy", "green-").time_s
    draining = _events(result, "target draining", "blue-").time_s
    assert len(healthy) == 2 and len(draining) == 2
    assert 0 < draining.min() - healthy.max() <= 1


def test_the_circuit_breaker_fails_the_update_the_moment_it_trips():
    # New tasks run 20 s after the start and crash 3.25 s later, before they are healthy;
    # the third failure (the first replacement's crash) falls between two 1-s polls.
    loop = {
        "kind": "crash_loop",
        "revision": "green",
        "uptime": {"distribution": "constant", "value": "3.25s"},
    }
    result = _rolling(2, 100, 200, faults=[loop])
    s = result.summary
    assert s["outcome_reason"] == "circuit breaker: 3 failed task(s) (threshold 3)"
    tripped = _events(result, "circuit breaker TRIGGERED").time_s
    assert list(tripped) == [s["rollback_start_s"]]
    assert s["rollback_start_s"] % 1 == pytest.approx(0.5)  # START + 2 × (20 + 3.25)


@pytest.mark.parametrize("startup", [20, 21])  # as above: either parity of the polls
def test_in_a_rollback_a_new_task_is_stopped_within_a_second_of_an_old_one_turning_healthy(
    startup,
):
    result = _rolled_back(startup=startup)
    start = result.summary["rollback_start_s"]
    healthy = _events(result, "target healthy", "blue-")
    healthy = healthy[healthy.time_s > start].time_s
    draining = _events(result, "target draining", "green-")
    draining = draining[draining.time_s > start].time_s
    assert len(healthy) == 2 and len(draining) == 2
    assert 0 < draining.min() - healthy.max() <= 1


# Two deregistration delays: the last new task stops at either parity of the polls.
@pytest.mark.parametrize("delay", [5.5, 6.5])
def test_a_rolling_rollback_ends_within_a_second_of_the_last_new_task_stopping(delay):
    result = _rolled_back(delay=delay)
    last_stop = _events(result, "task stopped", "green-").time_s.max()
    assert 0 <= result.summary["deployment_end_s"] - last_stop <= 1


def test_the_circuit_breaker_counts_nothing_once_a_rolling_rollback_has_begun():
    # The alarm rolls back; then the new tasks, still serving, crash: they are failed tasks
    # of a deployment already failed, which the circuit breaker no longer watches.
    crash = {"kind": "crash", "revision": "green", "after": "production_traffic", "at": "45s"}
    result = _rolled_back(faults=[crash])
    start = result.summary["rollback_start_s"]
    crashed = _events(result, "task stopped", "green-")
    crashed = crashed[crashed.detail.str.contains("crashed")]
    assert len(crashed) == 2 and (crashed.time_s > start).all()
    ev = result.events
    after = ev[(ev.time_s >= start) & ev.event.str.startswith("circuit breaker")]
    assert after.empty

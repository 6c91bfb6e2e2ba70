"""The world's rules that mutation testing found untested (mutation/README.md).

One rule per test: the ECS health-check grace period (``healthCheckGracePeriodSeconds``: ECS
ignores an unhealthy target of a task that long after the task started, and replaces it at the
end if it is still unhealthy); which replacement order ECS uses; the random streams of a seed;
how :func:`simulate` picks its seed and reports progress; and the contract of the Result's
frames (SPEC §5): their columns, and that they agree with each other and with the requests.
Each run is small (two tasks, a few requests per second, minutes of simulated time).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import five_xx_alarm, health_checks, service

from bluegreen_sim import simulate
from bluegreen_sim.engine.simulation import STREAMS, Streams, World
from bluegreen_sim.scenario import scenario_from_dict
from bluegreen_sim.scenario.faults import FAULT_ANCHORS

GRACE = 60.0


def _grace_world(faults: list[dict], *, grace: float = GRACE, duration: str = "150s") -> World:
    """Blue alone (two tasks running from 0 s), checked every 5 s: two failed checks make a
    target unhealthy, two passed ones healthy again."""
    raw = {
        "name": "grace",
        "duration": duration,
        "load": {"rps": 2},
        "service": service(2, mean=0.01, startup=10, health_check_grace_period=grace),
        "load_balancer": {
            "deregistration_delay": "5s",
            "health_check": health_checks(5, unhealthy_threshold=2, healthy_threshold=2),
        },
        "deployment": {"controller": "none"},
        "faults": faults,
    }
    world = World(scenario_from_dict(raw, "grace"), 1, False)
    world.run()
    return world


def _events(world: World, name: str) -> list[tuple[float, str]]:
    """(time, task name) of each ``name`` event of the world."""
    return [(t, d.split(":")[0]) for t, _, e, d in world.events if e == name]


def _task(world: World, name: str):
    return next(t for ts in world.task_sets.values() for t in ts.tasks if t.name == name)


def _health_fault(at: str, duration: str | None = None) -> dict:
    fault = {"kind": "health_check", "revision": "blue", "at": at}
    return fault if duration is None else {**fault, "duration": duration}


def test_ecs_replaces_an_unhealthy_task_when_its_grace_period_ends_not_before():
    # Every check fails from 20 s on: the first tasks are unhealthy at 25 s, inside their grace
    # period (running at 0 s), and are replaced at 60 s; their replacements (running at 70 s)
    # are unhealthy at 75 s and replaced at 130 s.
    world = _grace_world([_health_fault("20s")])
    # the first time each task was unhealthy
    unhealthy = {name: t for t, name in reversed(_events(world, "target unhealthy"))}
    marked = _events(world, "task marked for replacement")
    assert [name for _, name in marked] == ["blue-1", "blue-2", "blue-3", "blue-4"]
    for time, name in marked:
        grace_end = _task(world, name).running_at + GRACE
        assert time == grace_end  # at the instant the grace period ends
        assert unhealthy[name] < grace_end  # unhealthy long before
    assert [t for t, _ in marked[:2]] == [GRACE, GRACE]  # blue's first tasks run from 0 s
    # ECS says, once per task, that it ignores the target until then
    ignored = _events(world, "unhealthy ignored")
    assert [name for _, name in ignored] == ["blue-1", "blue-2", "blue-3", "blue-4"]
    assert all(time == unhealthy[name] for time, name in ignored)


def test_a_target_healthy_again_before_the_grace_period_ends_keeps_its_task():
    # Checks fail from 20 s to 35 s: unhealthy at 25 s, healthy again at 40 s, before 60 s.
    world = _grace_world([_health_fault("20s", "15s")], duration="100s")
    assert len(_events(world, "unhealthy ignored")) == 2
    assert _events(world, "task marked for replacement") == []
    blue = world.task_sets["blue"]
    assert [t.name for t in blue.tasks] == ["blue-1", "blue-2"]  # none started, none stopped
    assert all(t.stopped_at is None and t.health == "healthy" for t in blue.tasks)


def test_a_task_stopped_during_its_grace_period_is_not_replaced_again_at_its_end():
    # Both unhealthy at 25 s; one crashes at 40 s (ECS starts a replacement for it then); at
    # 60 s only the other one is replaced for being unhealthy.
    crash = {"kind": "crash", "revision": "blue", "at": "40s", "fraction": 0.5}
    world = _grace_world([_health_fault("20s"), crash])
    crashed = [name for _, name in _events(world, "task stopped") if name in ("blue-1", "blue-2")]
    crashed_at = {name: _task(world, name).stopped_at for name in crashed}
    assert list(crashed_at.values())[:1] == [40.0]
    marked = _events(world, "task marked for replacement")
    assert not any(name == crashed[0] for _, name in marked)
    assert (GRACE, ({"blue-1", "blue-2"} - {crashed[0]}).pop()) in marked


def test_a_target_unhealthy_twice_in_its_grace_period_waits_once():
    # Unhealthy at 25 s, healthy at 40 s, unhealthy again at 50 s: one wait per task, to the
    # same end (60 s), and one replacement then.
    world = _grace_world([_health_fault("20s", "15s"), _health_fault("45s")], duration="65s")
    unhealthy = _events(world, "target unhealthy")
    assert sorted(name for _, name in unhealthy) == ["blue-1", "blue-1", "blue-2", "blue-2"]
    assert [name for _, name in _events(world, "unhealthy ignored")] == ["blue-1", "blue-2"]
    marked = _events(world, "task marked for replacement")
    assert marked == [(GRACE, "blue-1"), (GRACE, "blue-2")]


def test_a_target_unhealthy_at_the_end_of_the_grace_period_is_replaced_at_once():
    # The grace period is [start, start + grace): at its last instant ECS no longer waits.
    raw = {
        "name": "grace-end",
        "duration": "70s",
        "load": {"rps": 2},
        "service": service(2, mean=0.01, startup=10, health_check_grace_period=GRACE),
        "deployment": {"controller": "none"},
    }
    world = World(scenario_from_dict(raw, "grace-end"), 1, False)
    task = world.task_sets["blue"].tasks[0]
    seen = {}

    def target_group_marks_it_unhealthy():
        # what the target group's health checker does when a target fails its checks
        yield world.env.timeout(GRACE)
        task.health = "unhealthy"
        world.ecs_replace_unhealthy(task)
        seen["replacing"] = task.replacing  # decided on the spot, not after a wait

    world.env.process(target_group_marks_it_unhealthy())
    world.run()
    assert seen == {"replacing": True}
    assert _events(world, "unhealthy ignored") == []
    assert _events(world, "task marked for replacement") == [(GRACE, task.name)]


# -- milestones ------------------------------------------------------------------------------


def test_every_fault_anchor_is_a_milestone_reached_once_at_its_time():
    # "start" is reached when the run starts; the others when a controller reaches them, the
    # first time only.
    raw = {"name": "milestones", "duration": "2m", "deployment": {"controller": "none"}}
    world = World(scenario_from_dict(raw, "milestones"), 1, False)
    for anchor in FAULT_ANCHORS:
        assert world.milestone(anchor).triggered is (anchor == "start")
    later = world.milestone("full_traffic")
    assert world.milestone("full_traffic") is later  # one event per milestone
    world.env.run(until=5)
    world.reach("full_traffic")
    world.env.run(until=7)
    world.reach("full_traffic")
    assert later.triggered and later.value == 5.0
    assert not world.milestone("green_running").triggered


# -- which replacement order ECS uses ------------------------------------------------------


@pytest.mark.parametrize(
    ("controller", "expected"),
    [
        ("none", "replace_first"),
        ("ecs", "replace_first"),
        ("codedeploy", "stop_first"),
        ("steps", "stop_first"),
    ],
)
def test_ecs_services_replace_first_whatever_the_task_set_setting(controller, expected):
    # A service (ECS controller, or no deployment) replaces an unhealthy task first (ECS-UG
    # deployment-type-ecs.md); CodeDeploy's and the steps controller's task sets follow
    # deployment.task_set_replacement.
    raw = {
        "name": "replacement",
        "duration": "2m",
        "deployment": {"controller": controller, "task_set_replacement": "stop_first"},
    }
    if controller == "steps":
        raw["deployment"]["steps"] = [{"weight": 100}]
    world = World(scenario_from_dict(raw, "replacement"), 1, False)
    assert world.unhealthy_replacement() == expected
    assert world.task_sets["blue"].replacement == expected


# -- random streams ------------------------------------------------------------------------


def test_a_seed_gives_the_same_independent_streams_as_its_seed_sequence():
    a = Streams.from_seed(7)
    b = Streams.from_seed(7)
    c = Streams.from_seed(np.random.SeedSequence(7))
    draws = {name: getattr(a, name).random(4) for name in STREAMS}
    for name in STREAMS:
        assert np.array_equal(getattr(b, name).random(4), draws[name])
        assert np.array_equal(getattr(c, name).random(4), draws[name])
    # one stream per source, each its own
    assert len({tuple(d) for d in draws.values()}) == len(STREAMS)
    other = Streams.from_seed(8)
    assert not np.array_equal(other.arrivals.random(4), draws["arrivals"])


# -- simulate: its seed, its requests, its progress -----------------------------------------

SMALL = {
    "name": "small",
    "duration": "150s",
    "load": {"rps": 5},
    "service": service(2, mean=0.02, startup=10),
    "deployment": {"controller": "none"},
}


def _same_run(a, b) -> bool:
    return a.summary == b.summary and a.timeline.equals(b.timeline) and a.events.equals(b.events)


def test_simulate_takes_the_scenarios_seed_unless_given_one_and_zero_without_either():
    seeded = scenario_from_dict({**SMALL, "seed": 5}, "small")
    unseeded = scenario_from_dict(SMALL, "small")
    by_scenario = simulate(seeded)
    assert by_scenario.summary["seed"] == 5
    assert _same_run(by_scenario, simulate(unseeded, seed=5))
    given = simulate(seeded, seed=9)
    assert given.summary["seed"] == 9
    assert _same_run(given, simulate(unseeded, seed=9))
    assert given.summary["requests_total"] != by_scenario.summary["requests_total"]
    default = simulate(unseeded)
    assert default.summary["seed"] == 0
    assert _same_run(default, simulate(unseeded, seed=0))


def test_simulate_keeps_no_requests_unless_asked():
    result = simulate(scenario_from_dict(SMALL, "small"), seed=1)
    assert result.requests is None
    assert result.summary["requests_total"] > 0


def test_progress_is_reported_every_simulated_minute_and_at_the_end_without_changing_the_run():
    sc = scenario_from_dict(SMALL, "small")
    seen = []
    with_progress = simulate(sc, seed=2, progress=seen.append)
    assert seen == [60.0, 120.0, 150.0]
    assert all(type(t) is float for t in seen)
    assert _same_run(with_progress, simulate(sc, seed=2))


# -- the Result's frames -----------------------------------------------------------------

REQUEST_COLUMNS = ["arrival_s", "revision", "task", "start_s", "finish_s", "latency_ms", "status"]


def _alarm(name: str) -> dict:
    return {
        "name": name,
        "metric": "RequestCount",
        "target_group": "blue",
        "statistic": "Sum",
        "period": "60s",
        "evaluation_periods": 1,
        "threshold": 100,
        "comparison": "LessThanThreshold",
    }


# Blue's two tasks crash at 30 s (ALB 503s until their replacements are registered at 40 s);
# CodeDeploy moves all traffic to green at about 106 s and keeps blue for a minute; blue
# crashes again at 150 s, while green runs, and is removed at about 166 s. The alarms watch
# blue's requests: OK at 60 s, ALARM at 180 s.
CONTRACT = {
    "name": "result-contract",
    "duration": "200s",
    "load": {"rps": 10},
    "service": service(2, mean=0.05, startup=10),
    "load_balancer": {
        "deregistration_delay": "5s",
        "health_check": health_checks(5, healthy_threshold=2),
    },
    "deployment": {"controller": "codedeploy", "start": "90s", "termination_wait": "1m"},
    # four alarms that change state at the same instants
    "alarms": [_alarm(f"blue-idle-{i}") for i in range(4)],
    "faults": [
        {"kind": "crash", "revision": "blue", "at": "30s"},
        {"kind": "crash", "revision": "blue", "at": "150s"},
    ],
}


def _contract_run():
    sc = scenario_from_dict(CONTRACT, "result-contract")
    return sc, simulate(sc, seed=3, record_requests=True)


def _is_range_indexed(frame: pd.DataFrame) -> bool:
    return frame.index.equals(pd.RangeIndex(len(frame)))


def test_the_requests_frame_has_one_row_per_request_in_arrival_order():
    sc, result = _contract_run()
    req, s = result.requests, result.summary
    assert list(req.columns) == REQUEST_COLUMNS
    assert _is_range_indexed(req)
    assert req["arrival_s"].is_monotonic_increasing
    assert len(req) == s["requests_total"]
    for rev in ("blue", "green"):
        assert (req["revision"] == rev).sum() == s[f"requests_{rev}"] > 0
    assert set(req["revision"]) == {"blue", "green"}
    for status, count in req["status"].value_counts().items():
        assert s[f"requests_{status}"] == count
    assert s["requests_503"] > 0
    started = req[req["task"] != ""]
    assert (started["arrival_s"] <= started["start_s"]).all()
    assert (started["start_s"] <= started["finish_s"]).all()
    assert np.allclose(req["latency_ms"], (req["finish_s"] - req["arrival_s"]) * 1000)
    assert result.scenario is sc


def test_each_request_names_the_task_of_its_revision_and_none_when_no_target_was_chosen():
    _, result = _contract_run()
    req = result.requests
    no_target = req["status"] == 503  # refused by the load balancer before choosing a target
    assert ((req["task"] == "") == no_target).all()
    served = req[~no_target]
    assert (served["task"].str.split("-").str[0] == served["revision"]).all()
    # blue's first tasks until they crash, their replacements, then green (all traffic)
    expected = {"blue-1", "blue-2", "blue-3", "blue-4", "green-1", "green-2"}
    assert set(served["task"]) == expected


def test_the_timeline_counts_the_requests_of_each_second_by_their_response():
    _, result = _contract_run()
    req, tl = result.requests, result.timeline
    second = np.floor(req["finish_s"]).astype(int)
    for rev in ("blue", "green"):
        mine = req["revision"] == rev
        counts = np.bincount(second[mine], minlength=len(tl))
        errors = np.bincount(second[mine & (req["status"] >= 500)], minlength=len(tl))
        assert np.array_equal(tl[f"requests_{rev}"].to_numpy(), counts)
        assert np.array_equal(tl[f"errors_{rev}"].to_numpy(), errors)


def test_the_metrics_frame_counts_every_response_up_to_the_last_one():
    _, result = _contract_run()
    req, m = result.requests, result.metrics
    assert list(m.columns) == ["time_s", "dimension", "metric", "statistic", "value"]

    def total(dimension, metric):
        rows = m[(m["dimension"] == dimension) & (m["metric"] == metric)]
        return rows["value"].sum()

    for rev in ("blue", "green"):
        ok = ((req["revision"] == rev) & (req["status"] == 200)).sum()
        assert total(rev, "HTTPCode_Target_2XX_Count") == ok
    assert total("load_balancer", "HTTPCode_ELB_503_Count") == (req["status"] == 503).sum()
    assert req["finish_s"].max() < m["time_s"].max() + 60


def test_the_alarms_frame_is_the_history_in_time_then_scenario_order():
    _, result = _contract_run()
    alarms, tl, ev = result.alarms, result.timeline, result.events
    assert list(alarms.columns) == ["time_s", "alarm", "old_state", "new_state", "datapoints"]
    assert _is_range_indexed(alarms)
    names = [f"blue-idle-{i}" for i in range(4)]
    assert list(alarms["time_s"]) == [60.0] * 4 + [180.0] * 4
    assert list(alarms["alarm"]) == names * 2
    assert list(alarms["new_state"]) == ["OK"] * 4 + ["ALARM"] * 4
    # the same transitions, in the same order, as the events; and the timeline's states
    transitions = ev[ev["source"] == "cloudwatch"]
    assert list(transitions["time_s"]) == list(alarms["time_s"])
    assert [d.split(":")[0] for d in transitions["detail"]] == list(alarms["alarm"])
    for row in alarms.itertuples():
        assert tl[f"alarm_{row.alarm}"].iloc[math.ceil(row.time_s)] == row.new_state
    assert result.summary["alarms_fired"] == names


def test_the_events_frame_lists_every_event_in_time_order():
    _, result = _contract_run()
    ev = result.events
    assert list(ev.columns) == ["time_s", "source", "event", "detail"]
    assert _is_range_indexed(ev)
    assert ev["time_s"].is_monotonic_increasing
    assert {"fault", "ecs", "alb", "cloudwatch", "codedeploy"} <= set(ev["source"])


def test_peak_tasks_counts_a_replacement_started_as_its_task_stops_once():
    # Replaying the task events in the order they happened: blue's crash at 150 s stops two
    # tasks while green's two run, and their replacements start at the same instant.
    _, result = _contract_run()
    ev = result.events
    level = peak = CONTRACT["service"]["tasks"]  # blue's tasks exist from the start
    for event in ev["event"]:
        level += {"task provisioning": 1, "task stopped": -1}.get(event, 0)
        peak = max(peak, level)
    assert peak == 4 and level == 2  # blue removed: fewer at the end than at the peak
    assert result.summary["peak_tasks"] == peak


def test_a_run_without_requests_has_an_empty_requests_frame_with_its_columns():
    raw = {**SMALL, "load": {"rps": 0}}
    result = simulate(scenario_from_dict(raw, "small"), seed=1, record_requests=True)
    assert list(result.requests.columns) == REQUEST_COLUMNS
    assert len(result.requests) == 0
    assert result.summary["requests_total"] == 0


# -- CodeDeploy: Install's end, and a deployment stopped by an alarm -----------------------

GREEN_5XX = five_xx_alarm("green-5xx", target_group="green", threshold=5)


def _codedeploy(deployment: dict, *, startup: float = 10, **extra):
    raw = {
        "name": "codedeploy-gaps",
        "duration": "4m",
        "load": {"rps": 10},
        "service": service(2, mean=0.02, startup=startup),
        "load_balancer": {
            "deregistration_delay": "5s",
            "health_check": health_checks(5, healthy_threshold=2),
        },
        "alarms": [GREEN_5XX],
        "deployment": {"controller": "codedeploy", "start": "30s", **deployment},
        **extra,
    }
    return simulate(scenario_from_dict(raw, "codedeploy-gaps"), seed=1)


@pytest.mark.parametrize("startup", [10, 11, 12.5])
def test_install_succeeds_within_a_second_of_green_being_steady(startup):
    # CodeDeploy looks at the replacement task set every second while Install waits for it.
    result = _codedeploy({}, startup=startup, duration="2m")
    ev = result.events
    healthy = ev[(ev["event"] == "target healthy") & ev["detail"].str.startswith("green-")]
    steady = healthy["time_s"].max()  # the last of green's two targets
    installed = ev.loc[ev["event"] == "Install succeeded", "time_s"].item()
    assert 0 <= installed - steady < 1


def test_a_codedeploy_deployment_stopped_by_an_alarm_says_which():
    # No rollback on alarms: the deployment stops (STOPPED) where it is, and says why.
    result = _codedeploy(
        {
            "config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
            "alarms": ["green-5xx"],
            "auto_rollback": ["DEPLOYMENT_FAILURE"],
        },
        green={"error_rate": 0.5},
    )
    s = result.summary
    assert s["outcome"] == "STOPPED" and s["rollback_start_s"] is None
    assert s["outcome_reason"] is not None and "green-5xx" in s["outcome_reason"]
    ev = result.events[result.events["source"] == "codedeploy"]
    no_rollback = ev.loc[ev["event"] == "no rollback", "detail"].item()
    assert no_rollback.startswith(s["outcome_reason"])
    closing = ev.iloc[-1]
    assert (closing["event"], closing["detail"]) == ("deployment stopped", s["outcome_reason"])


# -- when production traffic starts -----------------------------------------------------------


def test_production_traffic_starts_at_the_first_step_that_sends_green_any():
    # A 0 % step sends green nothing; a 1 % step does.
    raw = {
        "name": "first-traffic",
        "duration": "4m",
        "load": {"rps": 20},
        "service": service(2, mean=0.02, startup=10),
        "load_balancer": {"health_check": health_checks(5, healthy_threshold=2)},
        "deployment": {
            "controller": "steps",
            "start": "30s",
            "steps": [{"weight": 0, "pause": "1m"}, {"weight": 1, "pause": "1m"}, {"weight": 100}],
        },
    }
    result = simulate(scenario_from_dict(raw, "first-traffic"), seed=1)
    s, ev = result.summary, result.events
    shifts = ev[ev["event"] == "production traffic shifted"]
    assert [d.split(" /")[0] for d in shifts["detail"]] == ["green 1%", "green 100%"]
    one, hundred = shifts["time_s"]
    assert s["production_traffic_s"] == one
    assert s["full_traffic_s"] == hundred == one + 60
    assert one - 60 > s["deployment_start_s"]  # the 0 % step came first
    tl = result.timeline
    assert tl.loc[tl["time_s"] < one, "requests_green"].sum() == 0
    assert s["requests_green"] > 0


def test_a_fault_anchored_to_a_milestone_starts_when_the_deployment_reaches_it():
    # One fault per anchor (#1 … #6, in FAULT_ANCHORS' order), each from its milestone on.
    raw = {
        "name": "anchors",
        "duration": "8m",
        "load": {"rps": 5},
        "service": service(2, mean=0.02, startup=10.5),
        "load_balancer": {"test_listener": True, "health_check": health_checks(5)},
        "deployment": {
            "controller": "codedeploy",
            "start": "30s",
            "config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        },
        "faults": [
            {"kind": "latency", "revision": "both", "after": anchor, "add": "1ms"}
            for anchor in FAULT_ANCHORS
        ],
    }
    result = simulate(scenario_from_dict(raw, "anchors"), seed=1)
    ev = result.events

    def first(event: str, detail: str = "") -> float | None:
        rows = ev[(ev["event"] == event) & ev["detail"].str.startswith(detail)]
        return rows["time_s"].iloc[0] if len(rows) else None

    reached = {
        "start": 0.0,
        "deployment_start": first("deployment started"),
        "green_running": first("green tasks running"),
        "test_traffic": first("test traffic routed to green"),
        "production_traffic": first("production traffic shifted", "green 10%"),
        "full_traffic": first("production traffic shifted", "green 100%"),
    }
    assert sorted(reached.values()) == list(reached.values())  # the lifecycle's order
    # green is running once its last task is (the controller looks every second)
    running = ev[(ev["event"] == "task running") & ev["detail"].str.startswith("green-")]
    assert 0 <= reached["green_running"] - running["time_s"].max() < 1
    assert reached["full_traffic"] == reached["production_traffic"] + 300
    for number, anchor in enumerate(FAULT_ANCHORS, start=1):
        assert first("fault started", f"#{number} ") == reached[anchor], anchor

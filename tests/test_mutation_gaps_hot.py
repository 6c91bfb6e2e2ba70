"""Rules of the functions every simulation calls that mutation testing found unchecked (issue 16).

The health checker's counting of consecutive checks, the targets in service, the task sets'
replacement limits and billing, the fault fields a task carries, and the metric store's
datapoints. These functions run in every simulating test, so each survivor of theirs costs a
whole selection: the tests here are small worlds (one or two tasks, a minute or two of simulated
time, a request a second) or a metric store filled by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import constant, service

from bluegreen_sim.aws.alb import HealthChecker
from bluegreen_sim.aws.fargate import Task, TaskSet
from bluegreen_sim.aws.metrics import MetricStore, metrics_frame
from bluegreen_sim.aws.statistics import hist_bucket
from bluegreen_sim.engine.simulation import World
from bluegreen_sim.scenario import scenario_from_dict


def _world(raw: dict, seed: int = 1) -> World:
    world = World(scenario_from_dict(raw), seed, False)
    world.run()
    return world


def _events(world: World, event: str) -> list[tuple[float, str]]:
    """(time, detail) of each event of that name."""
    return _events_named(world.events, event)


def _events_named(events: list[tuple], event: str) -> list[tuple[float, str]]:
    return [(t, detail) for t, _, name, detail in events if name == event]


# -- the health checker -----------------------------------------------------------------------


@pytest.mark.parametrize("routing", ["round_robin", "weighted_random"])
def test_a_target_changes_health_after_its_thresholds_of_consecutive_checks(routing):
    # One blue task, checked every 5 s from t = 0. Its probes fail while a fault is in force:
    # at 15 and 20 s (two failures, one short of the threshold of three), then pass at 25 s,
    # which starts the count again; they fail at 30, 35 and 40 s: unhealthy after the third.
    # With 100 % / 100 % ECS can neither replace nor stop it, so it stays registered, passes
    # again from 60 s, and is healthy after the third pass (70 s). Weighted random routing
    # reads every probe at once instead of deferring the passing ones (the same rule).
    raw = {
        "duration": 90,
        "load": {"rps": 1},
        "service": service(
            1, mean=0.01, startup=5, minimum_healthy_percent=100, maximum_percent=100
        ),
        "load_balancer": {
            "routing": routing,
            "health_check": {
                "interval": 5,
                "timeout": 2,
                "healthy_threshold": 3,
                "unhealthy_threshold": 3,
            },
        },
        "faults": [
            {"kind": "health_check", "revision": "blue", "at": 12, "duration": 10},
            {"kind": "health_check", "revision": "blue", "at": 27, "duration": 30},
        ],
    }
    world = _world(raw)
    [(unhealthy_at, why)] = _events(world, "target unhealthy")
    [(healthy_at, _)] = _events(world, "target healthy")
    # a probe's result is known once the task has answered it (5 ms of work)
    assert 40 <= unhealthy_at < 41
    assert why.startswith("blue-1: 3 consecutive checks failed")
    assert 70 <= healthy_at < 71
    [task] = world.task_sets["blue"].tasks
    assert task.health == "healthy" and task.healthy_at == healthy_at


def test_a_check_that_times_out_does_not_delay_the_next_one():
    # Checks go every interval from the target's registration (t = 0), however long one
    # took. With probes taking a request's service time, 10 s more while a latency fault is in
    # force (12 s to 42 s), they time out after 4.5 s: the target is unhealthy when the second
    # failed probe (at 20 s) times out, and healthy again at a probe of the 5 s grid.
    raw = {
        "duration": 70,
        "load": {"rps": 1},
        "service": service(
            1, mean=0.01, startup=5, minimum_healthy_percent=100, maximum_percent=100
        ),
        "load_balancer": {
            "health_check": {
                "interval": 5,
                "timeout": 4.5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
                "probe_time": None,
            }
        },
        "faults": [{"kind": "latency", "revision": "blue", "at": 12, "duration": 30, "add": 10}],
    }
    world = _world(raw)
    [(unhealthy_at, why)] = _events(world, "target unhealthy")
    [(healthy_at, _)] = _events(world, "target healthy")
    assert unhealthy_at == 20 + 4.5 and why.endswith("(timeout)")
    assert healthy_at >= 45 and healthy_at % 5 < 0.1


def test_probes_read_later_in_a_batch_give_the_health_history_of_probes_read_at_once():
    # A healthy target's probe whose outcome cannot change its state (failures so far too
    # few) is served with its window in a batch and read when the next one is due. With
    # half the probes failing at random from the start, the targets' health changes, ECS's
    # replacements and their times are the same as when every probe is awaited.
    raw = {
        "duration": 300,
        "load": {"rps": 1},
        "service": service(2, mean=0.01, startup=5),
        "load_balancer": {"health_check": {"interval": 5, "timeout": 2, "unhealthy_threshold": 3}},
        "faults": [{"kind": "health_check", "revision": "blue", "probability": 0.5}],
    }
    histories = []
    for deferrable in (True, False):
        world = World(scenario_from_dict(raw), 1, False)
        world.dataplane.probes_deferrable = deferrable
        world.run()
        histories.append([e for e in world.events if e[1] in ("alb", "ecs")])
    assert _events_named(histories[0], "target unhealthy")  # the history is not empty
    assert histories[0] == histories[1]


def _started(raw: dict, seed: int = 1) -> World:
    """A world whose processes are started but not run: step it with ``world.env.run``."""
    world = World(scenario_from_dict(raw), seed, False)
    world.env.process(world.dataplane.run())
    world.env.process(world.controller.run())
    return world


def test_slow_start_spares_the_first_target_of_an_empty_group_and_ramps_the_others():
    # Three green tasks register into the empty green group at 10 s and pass their two checks
    # at 15 s. ECS registers them one by one: only the first is registered into an empty
    # group and skips slow start (ALB-UG); the others find it healthy and out of slow start,
    # so they ramp linearly over the 30 s, from a floor of 1 %.
    raw = {
        "duration": 120,
        "load": {"rps": 2},
        "service": service(3, mean=0.01, startup=10),
        "load_balancer": {
            "slow_start": 30,
            "health_check": {"interval": 5, "timeout": 2, "healthy_threshold": 2},
        },
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
    }
    world = _started(raw)
    group = world.alb.target_group("green")
    world.env.run(until=15.006)  # the checks pass at 15 s; the probe's answer takes 5 ms
    first, *others = group.targets
    healthy_at = first.healthy_at
    assert 15 <= healthy_at < 15.006 and all(t.healthy_at == healthy_at for t in others)
    assert [t.slow_start for t in group.targets] == [False, True, True]
    for now in (15.006, 25.0, 40.0):  # just healthy (the 1 % floor), then on the ramp
        world.env.run(until=max(now, world.env.now + 1e-9))
        targets, weights = group.in_service()
        assert targets == [first, *others]
        ramp = max((world.env.now - healthy_at) / 30, 0.01)
        assert weights == pytest.approx([1.0, ramp, ramp])
    # out of slow start, every target has the same weight again
    world.env.run(until=healthy_at + 30)
    assert group.in_service() == ([first, *others], None)
    # blue's tasks, healthy from the start, never were in slow start
    assert world.alb.target_group("blue").in_service()[1] is None


def test_a_target_registered_into_an_empty_group_skips_slow_start_even_when_healthy_last():
    # The exemption belongs to the registration, not to being healthy first: green-1,
    # registered into the empty group, becomes healthy after green-2, which is out of slow
    # start by then; green-1 still skips it (ALB-UG), while green-3 enters it.
    raw = {
        "duration": 60,
        "service": service(1, mean=0.01, startup=5),
        "load_balancer": {"slow_start": 30},
    }
    world = World(scenario_from_dict(raw), 1, False)
    group = world.alb.target_group("green")
    green = TaskSet(world, "green", world.scenario.revision("green"), 3)
    tasks = [Task(world, green, number) for number in (1, 2, 3)]
    for task in tasks:
        task.state = "RUNNING"
        group.register(task)
    assert [t.health for t in tasks] == ["initial"] * 3
    for task in (tasks[1], tasks[0], tasks[2]):
        HealthChecker(world, group, task)._become("healthy", "checks passed")
    assert [t.slow_start for t in tasks] == [False, False, True]


def test_a_target_enters_slow_start_only_beside_a_healthy_target_out_of_it():
    # ALB-UG: slow start begins for a newly healthy target only when at least one healthy
    # target is not in slow start. A target ramping since 100 s is in slow start until 130 s
    # (30 s later), not at 130 s itself.
    world = World(
        scenario_from_dict({"duration": 300, "load_balancer": {"slow_start": 30}}), 1, False
    )
    group = world.alb.target_group("green")
    green = TaskSet(world, "green", world.scenario.revision("green"), 4)
    tasks = [Task(world, green, number) for number in (1, 2, 3, 4)]
    for task in tasks:
        task.state = "RUNNING"
        group.register(task)
    one, two, three, four = (HealthChecker(world, group, task) for task in tasks)
    world.env.run(until=1)
    one._become("healthy", "")  # registered into the empty group: no slow start
    world.env.run(until=100)
    two._become("healthy", "")
    assert tasks[1].slow_start  # beside one, out of slow start
    one._become("unhealthy", "")
    world.env.run(until=110)
    three._become("healthy", "")
    assert not tasks[2].slow_start  # two is healthy but still ramping (10 s of 30)
    three._become("unhealthy", "")
    world.env.run(until=130)
    four._become("healthy", "")
    assert tasks[3].slow_start  # two's 30 s are over


def test_a_new_target_failing_its_checks_is_unhealthy_at_the_threshold():
    # green-1 registers (initial) at 10 s; every probe fails: unhealthy at the third, 20 s
    raw = {
        "duration": 40,
        "load": {"rps": 1},
        "service": service(1, mean=0.01, startup=10),
        "load_balancer": {"health_check": {"interval": 5, "timeout": 2, "unhealthy_threshold": 3}},
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
        "faults": [{"kind": "health_check", "revision": "green"}],
    }
    world = _world(raw)
    first, *_ = _events(world, "target unhealthy")
    assert 20 <= first[0] < 21 and first[1].startswith("green-1: 3 consecutive checks failed")


def test_the_controller_hears_of_a_task_healthy_the_first_time_only():
    # ECS's circuit breaker resets its count when a task reaches a healthy state: once per
    # task, not again when a target that was unhealthy passes its checks again
    world = World(scenario_from_dict({"duration": 60}), 1, False)
    group = world.alb.target_group("green")
    green = TaskSet(world, "green", world.scenario.revision("green"), 1)
    heard = []
    green.on_task_healthy.append(heard.append)
    task = Task(world, green, 1)
    task.state = "RUNNING"
    group.register(task)
    checker = HealthChecker(world, group, task)
    checker._become("healthy", "checks passed")
    assert heard == [task]
    checker._become("unhealthy", "checks failed")
    checker._become("healthy", "checks passed again")
    assert heard == [task] and task.health == "healthy"


def test_a_weight_change_is_a_percentage_between_0_and_100():
    world = World(scenario_from_dict({"duration": 60}), 1, False)
    listener = world.listener
    listener.set_green_weight(150.0, "too much")
    assert listener.green_weight == 100.0
    listener.set_green_weight(-5.0, "too little")
    assert listener.green_weight == 0.0
    shifts = _events(world, "production traffic shifted")
    assert [detail for _, detail in shifts] == [
        "green 100% / blue 0% (too much)",
        "green 0% / blue 100% (too little)",
    ]
    listener.set_green_weight(0.0)  # no change: nothing happens, nothing is reported
    assert len(_events(world, "production traffic shifted")) == 2
    listener.set_green_weight(25.0)  # without a reason, the detail gives the weights only
    assert _events(world, "production traffic shifted")[-1][1] == "green 25% / blue 75%"


@pytest.mark.parametrize("delay", [0.5, 3.0])
def test_a_weight_change_takes_effect_after_the_listener_change_delay(delay):
    raw = {"duration": 60, "load_balancer": {"listener_change_delay": delay}}
    world = World(scenario_from_dict(raw), 1, False)
    world.listener.set_green_weight(40.0, "step 1")
    assert world.listener.green_weight == 0.0  # requested, not yet in force
    world.env.run(until=delay * 0.99)
    assert world.listener.green_weight == 0.0
    world.env.run(until=delay * 1.01)
    assert world.listener.green_weight == 40.0
    [(requested, _)] = _events(world, "listener change requested")
    [(shifted, _)] = _events(world, "production traffic shifted")
    assert (requested, shifted) == (0.0, delay)


# -- the fault fields a task carries ----------------------------------------------------------

_FIELDS = (
    "extra_error_rate",
    "latency_multiply",
    "latency_add",
    "leak_growth",
    "leak_since",
    "probe_failure",
    "overload_error_rate",
    "overload_utilisation",
    "faulty",
)


def _fields(task) -> dict[str, float]:
    return {name: getattr(task, name) for name in _FIELDS}


def _fault(kind: str, at: float, **fields) -> dict:
    return {"kind": kind, "at": at, **fields}


def test_faults_in_force_combine_on_each_task_and_end_cleanly():
    # Green's task runs from 10 s. Faults from 5 s reach it as it starts; a second of each
    # kind is in force from 20 s to 40 s. Independent failure chances combine as
    # 1 - (1 - a)(1 - b), latency factors multiply and additions add, leaks add up from
    # when the task runs or the fault starts (the later); a dependency outage hits both
    # revisions but makes neither a faulty release.
    raw = {
        "duration": 60,
        "load": {"rps": 1},
        "service": service(1, mean=0.01, startup=10),
        "load_balancer": {"health_check": {"interval": 5, "timeout": 2, "unhealthy_threshold": 10}},
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
        "faults": [
            _fault("error_rate", 5, error_rate=0.1),
            _fault("latency", 5, multiply=2, add=0.05),
            _fault("health_check", 5, probability=0.2),
            _fault("slow_leak", 5, growth=0.001),
            _fault("error_rate", 20, duration=20, error_rate=0.2),
            _fault("latency", 20, duration=20, multiply=3, add=0.01),
            _fault("health_check", 20, duration=20, probability=0.5),
            _fault("slow_leak", 20, duration=20, growth=0.002),
            _fault("load_dependent", 20, duration=20, error_rate=0.3, utilisation=0.7),
            _fault("dependency_outage", 20, duration=20, error_rate=0.5),
        ],
    }
    world = _started(raw)
    quiet = {
        "extra_error_rate": 0.0,
        "latency_multiply": 1.0,
        "latency_add": 0.0,
        "leak_growth": 0.0,
        "leak_since": 0.0,
        "probe_failure": 0.0,
        "overload_error_rate": 0.0,
        "overload_utilisation": 1.0,
        "faulty": 0.0,
    }
    world.env.run(until=15)
    [blue] = world.task_sets["blue"].tasks
    [green] = world.task_sets["green"].tasks
    first = {
        "extra_error_rate": 0.1,
        "latency_multiply": 2.0,
        "latency_add": 0.05,
        "leak_growth": 0.001,
        "leak_since": 10.0,  # running from 10 s, the fault from 5 s
        "probe_failure": 0.2,
        "overload_error_rate": 0.0,
        "overload_utilisation": 1.0,
        "faulty": 1.0,
    }
    assert _fields(green) == pytest.approx(first)
    assert _fields(blue) == quiet  # the faults are green's
    world.env.run(until=30)
    assert _fields(green) == pytest.approx(
        {
            "extra_error_rate": 1 - 0.9 * 0.8 * 0.5,
            "latency_multiply": 6.0,
            "latency_add": 0.06,
            "leak_growth": 0.003,
            "leak_since": 20.0,
            "probe_failure": 1 - 0.8 * 0.5,
            "overload_error_rate": 0.3,
            "overload_utilisation": 0.7,
            "faulty": 1.0,
        }
    )
    assert _fields(blue) == pytest.approx(dict(quiet, extra_error_rate=0.5))
    world.env.run(until=45)  # the second faults have ended
    assert green.state == "RUNNING"
    assert _fields(green) == pytest.approx(first)
    assert _fields(blue) == quiet


@pytest.mark.parametrize(
    "fault",
    [
        _fault("latency", 0, multiply=3),
        _fault("latency", 0, add=0.02),
        _fault("slow_leak", 0, growth=0.6),  # +10 ms per second of age
    ],
    ids=["multiply", "add", "leak"],
)
def test_a_latency_fault_alone_slows_every_response(fault):
    # blue answers in 10 ms exactly; under the fault no response of the second minute is
    # as fast (a fault that sets one latency field only must still reach the data plane)
    raw = {
        "duration": 120,
        "load": {"rps": 5},
        "service": {"tasks": 2, "latency": constant(0.01), "startup": constant(5)},
        "faults": [dict(fault, revision="blue")],
    }
    world = _world(raw)
    fastest = world.metrics.datapoint("TargetResponseTime", BLUE_TG, "Minimum", 60.0, 120.0)
    assert fastest >= 0.03 - 1e-9


@pytest.mark.parametrize(("utilisation", "errors"), [(0.1, True), (0.9, False)])
def test_a_load_dependent_fault_fails_requests_only_above_its_utilisation(utilisation, errors):
    # one task busy 25 % of the time (5 requests a second of 50 ms)
    raw = {
        "duration": 60,
        "load": {"rps": 5},
        "service": {
            "tasks": 1,
            "latency": constant(0.05),
            "startup": constant(5),
            "concurrency": 1,
        },
        "faults": [
            _fault("load_dependent", 0, revision="blue", error_rate=1.0, utilisation=utilisation)
        ],
    }
    world = _world(raw)
    failed = world.metrics.datapoint("HTTPCode_Target_5XX_Count", BLUE_TG, "Sum", 0.0, 60.0)
    assert (failed is not None and failed > 100) is errors


def test_a_load_dependent_fault_reads_the_utilisation_of_each_window():
    # 2 requests a second of 50 ms (10 % busy), 30 a second from 20 s to 25 s (150 %): the
    # burst's seconds are over the 50 % threshold, though the minute as a whole is not
    raw = {
        "duration": 60,
        "load": {
            "rps": 2,
            "pattern": "step",
            "steps": [{"at": 20, "rps": 30}, {"at": 25, "rps": 2}],
            "arrivals": "uniform",
        },
        "service": {
            "tasks": 1,
            "latency": constant(0.05),
            "startup": constant(5),
            "concurrency": 1,
        },
        "faults": [_fault("load_dependent", 0, revision="blue", error_rate=1.0, utilisation=0.5)],
    }
    world = _world(raw)
    failed = [
        world.metrics.datapoint("HTTPCode_Target_5XX_Count", BLUE_TG, "Sum", t, t + 10.0)
        for t in (0.0, 10.0, 20.0, 30.0, 40.0, 50.0)
    ]
    assert failed[0] is failed[1] is None and failed[3] is failed[4] is failed[5] is None
    assert failed[2] >= 100  # the burst: 5 s of 30 requests


@pytest.mark.parametrize("green_error_rate", [0.0, 0.01])
def test_green_is_a_faulty_release_when_configured_worse_not_under_a_dependency_outage(
    green_error_rate,
):
    raw = {
        "duration": 30,
        "load": {"rps": 1},
        "service": service(1, mean=0.01, startup=5),
        "green": {"error_rate": green_error_rate},
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
        "faults": [_fault("dependency_outage", 0, error_rate=0.5)],
    }
    world = _started(raw)
    world.env.run(until=10)
    [green] = world.task_sets["green"].tasks
    [blue] = world.task_sets["blue"].tasks
    assert green.extra_error_rate == blue.extra_error_rate == 0.5
    assert green.faulty == (1.0 if green_error_rate > 0 else 0.0)
    assert blue.faulty == 0.0


def test_a_fault_on_a_fraction_of_tasks_leaves_the_others_untouched():
    # each task is hit with the fault's fraction, drawn once; a task not hit carries nothing
    raw = {
        "duration": 30,
        "load": {"rps": 1},
        "service": service(8, mean=0.01, startup=5),
        "faults": [{"kind": "error_rate", "revision": "blue", "error_rate": 0.3, "fraction": 0.5}],
    }
    world = _started(raw)
    world.env.run(until=1)
    [fault] = world.faults.active
    tasks = world.task_sets["blue"].tasks
    hit = [fault.hits[t.id] for t in tasks]
    assert 0 < sum(hit) < len(tasks)  # this seed hits some tasks and spares others
    assert [t.extra_error_rate for t in tasks] == pytest.approx([0.3 if h else 0.0 for h in hit])


def test_a_crash_fault_hits_the_tasks_running_when_it_starts_not_their_replacements():
    raw = {
        "duration": 40,
        "load": {"rps": 1},
        "service": service(1, mean=0.01, startup=5),
        "load_balancer": {"health_check": {"interval": 5, "timeout": 2, "healthy_threshold": 2}},
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
        "faults": [{"kind": "crash", "after": "green_running", "at": 1}],
    }
    world = _started(raw)
    world.env.run(until=30)
    first, replacement = world.task_sets["green"].tasks
    assert first.state == "STOPPED" and first.stop_reason.startswith("crashed (fault #1")
    crashed_at = first.running_at + 1  # the fault: 1 s after green runs
    assert first.stopped_at == crashed_at
    # billed from its pull to its crash: the one-minute minimum
    assert world.task_sets["green"].task_seconds(30.0) == 60 + (30.0 - replacement.pulled_at)
    assert replacement.state == "RUNNING"
    assert first.faulty == 1.0 and replacement.faulty == 0.0


@pytest.mark.parametrize(("green_ms", "worse"), [(50, True), (5, False)])
def test_a_green_slower_by_its_empirical_latency_is_a_faulty_release(tmp_path, green_ms, worse):
    for name, ms in (("blue", 10), ("green", green_ms)):
        (tmp_path / f"{name}.csv").write_text(f"latency_ms\n{ms}\n{ms}\n", encoding="utf-8")
    raw = {
        "duration": 30,
        "load": {"rps": 1},
        "service": service(1, mean=0.01, startup=5),
        "blue": {"latency": {"distribution": "empirical", "file": str(tmp_path / "blue.csv")}},
        "green": {"latency": {"distribution": "empirical", "file": str(tmp_path / "green.csv")}},
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
    }
    world = _started(raw)
    world.env.run(until=10)
    [green] = world.task_sets["green"].tasks
    assert world.faults.green_is_worse is worse
    assert green.faulty == float(worse)


def test_a_leak_on_tasks_running_from_the_start_grows_from_the_start():
    raw = {
        "duration": 30,
        "load": {"rps": 1},
        "service": service(2, mean=0.01, startup=5),
        "faults": [{"kind": "slow_leak", "revision": "blue", "growth": 0.001}],
    }
    world = _started(raw)
    world.env.run(until=1)
    for task in world.task_sets["blue"].tasks:  # running since 0, as the fault
        assert (task.leak_growth, task.leak_since) == (0.001, 0.0)


def test_tasks_start_up_in_their_empirical_start_up_time(tmp_path):
    # 7 s of start-up: provisioning (20 %, the model's share), then the image pull, from
    # which Fargate bills, then RUNNING; the application answers 0.5 s later (app_start)
    (tmp_path / "startup.csv").write_text("startup_ms\n7000\n7000\n", encoding="utf-8")
    raw = {
        "duration": 30,
        "load": {"rps": 1},
        "service": service(2, mean=0.01, startup=5),
        "green": {
            "startup": {"distribution": "empirical", "file": str(tmp_path / "startup.csv")},
            "app_start": 0.5,
        },
        "deployment": {"controller": "steps", "start": 0, "steps": [{"weight": 100, "pause": 60}]},
    }
    world = _started(raw)
    world.env.run(until=3)
    green = world.task_sets["green"]
    assert [t.state for t in green.tasks] == ["PENDING", "PENDING"]
    world.env.run(until=10)
    for task in green.tasks:
        assert task.pulled_at == pytest.approx(1.4) and task.running_at == pytest.approx(7.0)
        assert task.answers_from == pytest.approx(7.5)
        assert world.dataplane.table.columns["ready_at"][task.id] == pytest.approx(7.5)
    assert green.task_seconds(10.0) == pytest.approx(2 * 8.6)
    # blue's tasks run (and are billed) from the start of the run
    assert world.task_sets["blue"].task_seconds(10.0) == 2 * 10.0


# -- task sets: limits and billing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "min_healthy", "max_tasks"),
    [
        (4, 50, 150, 2, 6),  # exact products: no rounding either way
        (3, 50, 150, 2, 4),  # 1.5 rounds up, 4.5 down
        (3, 100, 100, 3, 3),
        (10, 0, 200, 0, 20),
        (1, 0, 100, 0, 1),
        (1, 100, 100, 1, 1),
        (51, 99, 200, 51, 102),  # 50.49 rounds up to 51
    ],
)
def test_minimum_healthy_rounds_up_and_maximum_rounds_down(
    desired, minimum, maximum, min_healthy, max_tasks
):
    # ECS DeploymentConfiguration: minimumHealthyPercent rounds up, maximumPercent down
    sc = scenario_from_dict(
        {
            "duration": 10,
            "service": service(
                1,
                mean=0.01,
                startup=5,
                minimum_healthy_percent=minimum,
                maximum_percent=maximum,
            ),
        }
    )
    world = World(sc, 1, False)
    task_set = TaskSet(world, "green", sc.revision("green"), desired)
    assert (task_set.min_healthy, task_set.max_tasks) == (min_healthy, max_tasks)
    assert task_set.desired == desired and task_set.tasks == [] and task_set.active
    assert task_set.replacement == "replace_first"  # the ECS way, for a service alone


def _blue(tasks: int, minimum: int, maximum: int) -> TaskSet:
    """Blue's task set, running and healthy, in a world that is not run (ECS: replace first)."""
    svc = service(
        tasks, mean=0.01, startup=5, minimum_healthy_percent=minimum, maximum_percent=maximum
    )
    world = World(scenario_from_dict({"duration": 60, "service": svc}), 1, False)
    return world.task_sets["blue"]


def _unhealthy(task_set: TaskSet, task) -> None:
    task.health = "unhealthy"
    task_set.replace_unhealthy(task)


def test_ecs_replaces_an_unhealthy_task_first_and_stops_it_once_the_replacement_is_healthy():
    blue = _blue(2, 50, 150)  # room for one more task
    one, two = blue.tasks
    _unhealthy(blue, one)
    three = blue.tasks[-1]
    assert len(blue.tasks) == 3 and three.state == "PROVISIONING"
    assert one.state == "RUNNING"  # kept until its replacement is healthy
    three.state = "RUNNING"
    three.health = "initial"  # registered, not yet healthy
    blue.reconcile()
    assert one.state == "RUNNING"
    three.health = "healthy"
    blue.reconcile()
    assert one.state == "DRAINING" and one.stop_reason == "unhealthy: failed ELB health checks"
    assert two.state == three.state == "RUNNING" and len(blue.tasks) == 3  # no second start


def test_without_room_ecs_stops_unhealthy_tasks_first_while_the_minimum_stays_healthy():
    blue = _blue(2, 50, 100)  # no room to start a replacement; one task must stay
    one, two = blue.tasks
    _unhealthy(blue, one)
    assert len(blue.tasks) == 2 and one.state == "DRAINING"  # the minimum, 1, remains
    blue = _blue(2, 50, 150)  # room for one more task, already taken by one's replacement
    one, two = blue.tasks
    _unhealthy(blue, one)
    one.health = "healthy"  # marked for replacement, then passing its checks again
    _unhealthy(blue, two)
    # no room for two's replacement: of the two marked, the unhealthy one goes first, and
    # only one, so that the minimum (1) stays
    assert [t.state for t in blue.tasks] == ["RUNNING", "DRAINING", "PROVISIONING"]


def _billed(end: float, *tasks: tuple[float | None, float | None]) -> float:
    """Billed seconds up to ``end`` of tasks given as (pulled_at, stopped_at)."""
    fake = SimpleNamespace(
        tasks=[SimpleNamespace(pulled_at=pulled, stopped_at=stopped) for pulled, stopped in tasks]
    )
    return TaskSet.task_seconds(fake, end)


def test_a_task_is_billed_from_its_pull_to_its_stop_by_the_second_with_a_minute_minimum():
    # Fargate: from the image pull until the task stops, rounded up to the second, one
    # minute at least; a task still running at ``end`` has cost ``end - pulled`` so far.
    assert _billed(100.0) == 0.0
    assert _billed(100.0, (None, 20.0)) == 0.0  # stopped while provisioning: never pulled
    assert _billed(100.0, (10.0, 40.0)) == 60.0  # 30 s: the minimum
    assert _billed(100.0, (10.0, 80.5)) == 71.0  # 70.5 s: rounded up
    assert _billed(100.0, (10.0, 81.0)) == 71.0  # a whole number of seconds stays
    assert _billed(200.0, (10.0, 10.0 + 0.1 * 3 * 250)) == 75.0  # 75.000…01 s: rounding error
    assert _billed(100.0, (30.0, None)) == 70.0  # still running: its bill so far, not rounded
    assert _billed(100.0, (99.5, None)) == 0.5  # …nor raised to the minimum
    assert _billed(100.0, (30.0, 100.0)) == 70.0  # stopped at ``end`` itself: a whole bill
    assert _billed(100.0, (90.0, 100.0)) == 60.0
    assert _billed(100.0, (10.0, 150.0)) == 90.0  # stops after ``end``: billed up to it
    assert _billed(100.0, (100.0, 100.0)) == 0.0  # pulled at ``end``: nothing yet
    assert _billed(100.0, (120.0, 130.0)) == 0.0
    # each task's bill is its own, summed over the tasks of the set
    assert _billed(100.0, (10.0, 40.0), (30.0, None), (None, None), (10.0, 80.5)) == 201.0


# -- the metric store's datapoints ----------------------------------------------------------------


def _filled_store() -> MetricStore:
    """Two minutes of metrics, filled by hand.

    Minute 0: blue answers 200 at 0.010 s, 0.020 s … 0.100 s (ten responses at 5 s), plus
    one 500 at 0.5 s and two 503s (rejected before a target was chosen); green answers one 200
    at 0.2 s. Minute 1: no request. Host counts, sampled each second over [0, 20): blue 2
    healthy for 5 s, 2 unhealthy for 3 s, then 1 and 1 (three runs of counts in the first 10 s
    bucket, one in the second); green none.
    """
    store = MetricStore(600.0)
    latency = np.concatenate((np.arange(1, 11) / 100, [0.5, 0.0, 0.0, 0.2]))
    status = np.array([200] * 10 + [500, 503, 503, 200], np.int16)
    revision = np.array([BLUE] * 13 + [GREEN], np.int8)
    response = np.full(len(latency), 5.0) + latency
    store.add(response, status, revision, latency, hist_bucket(latency * 1000))
    blue = [(2, 0)] * 5 + [(0, 2)] * 3 + [(1, 1)] * 12
    for t, counts in enumerate(blue):
        store.sample_hosts(float(t), t + 1.0, [counts, (0, 0)])
    return store


BLUE, GREEN = 0, 1  # a response's revision
LB_, BLUE_TG, GREEN_TG = 0, 1, 2  # the dimensions


@pytest.mark.parametrize(
    ("metric", "dimension", "stat", "value"),
    [
        # counts: a request is a sample of value 1; 503s chose no target, so no RequestCount
        ("RequestCount", LB_, "Sum", 12.0),
        ("RequestCount", LB_, "SampleCount", 12.0),
        ("RequestCount", BLUE_TG, "Sum", 11.0),
        ("RequestCount", GREEN_TG, "Sum", 1.0),
        ("RequestCount", BLUE_TG, "Average", 1.0),
        ("RequestCount", BLUE_TG, "Maximum", 1.0),
        ("HTTPCode_Target_5XX_Count", BLUE_TG, "Sum", 1.0),
        ("HTTPCode_Target_5XX_Count", GREEN_TG, "Sum", None),  # zero: not reported
        ("HTTPCode_Target_5XX_Count", GREEN_TG, "Average", None),
        ("HTTPCode_ELB_503_Count", LB_, "Sum", 2.0),
        ("HTTPCode_ELB_5XX_Count", LB_, "Minimum", 1.0),
        # TargetResponseTime: the responses of targets only, in seconds
        ("TargetResponseTime", BLUE_TG, "SampleCount", 11.0),
        ("TargetResponseTime", BLUE_TG, "Average", (0.55 + 0.5) / 11),
        ("TargetResponseTime", BLUE_TG, "Minimum", 0.01),
        ("TargetResponseTime", BLUE_TG, "Maximum", 0.5),
        ("TargetResponseTime", BLUE_TG, "Sum", 1.05),
        ("TargetResponseTime", BLUE_TG, "p50", 0.06),  # the 6th of 11, within 1 %
        ("TargetResponseTime", BLUE_TG, "p100", 0.5),  # the extremes are exact
        ("TargetResponseTime", BLUE_TG, "p0", 0.01),
        ("TargetResponseTime", GREEN_TG, "p99", 0.2),  # clamped to the one response
        ("TargetResponseTime", LB_, "Maximum", 0.5),
        ("TargetResponseTime", LB_, "SampleCount", 12.0),
        ("TargetResponseTime", BLUE_TG, "p90", 0.10),  # the 10th of 11
        ("TargetResponseTime", LB_, "p90", 0.2),  # the 11th of 12: green's response counts
        # host counts: one sample a second; a percentile of them is their mean
        ("HealthyHostCount", BLUE_TG, "Average", 1.1),
        ("HealthyHostCount", BLUE_TG, "Minimum", 0.0),
        ("HealthyHostCount", BLUE_TG, "Maximum", 2.0),
        ("HealthyHostCount", BLUE_TG, "SampleCount", 20.0),
        ("HealthyHostCount", BLUE_TG, "Sum", 22.0),
        ("HealthyHostCount", BLUE_TG, "p90", 1.1),
        ("UnHealthyHostCount", BLUE_TG, "Average", 0.9),
        ("UnHealthyHostCount", BLUE_TG, "Minimum", 0.0),
        ("UnHealthyHostCount", BLUE_TG, "Maximum", 2.0),
        ("UnHealthyHostCount", BLUE_TG, "p50", 0.9),
        ("HealthyHostCount", GREEN_TG, "Maximum", 0.0),  # sampled: zero, not missing
    ],
)
def test_a_datapoint_is_the_statistic_of_its_period(metric, dimension, stat, value):
    store = _filled_store()
    got = store.datapoint(metric, dimension, stat, 0.0, 60.0)
    if value is None:
        assert got is None
    else:
        assert got == pytest.approx(value, rel=0.01)


@pytest.mark.parametrize("delay", [10.0, 8.5])
def test_an_ecs_deployment_succeeds_once_blue_has_stopped_within_a_second(delay):
    # CLEAN_UP scales blue down to 0; the deployment is SUCCESSFUL when its last task has
    # stopped (after the deregistration delay), noticed within the control plane's second.
    raw = {
        "duration": 60,
        "load": {"rps": 2},
        "service": service(2, mean=0.01, startup=5),
        "load_balancer": {
            "deregistration_delay": delay,
            "health_check": {"interval": 5, "timeout": 2, "healthy_threshold": 2},
        },
        "deployment": {"controller": "ecs", "start": 3, "bake_time": 0},
    }
    world = _world(raw)
    [(draining, _), _] = _events(world, "target draining")
    stops = [t for t, detail in _events(world, "task stopped") if detail.startswith("blue-")]
    [(succeeded, _)] = _events(world, "deployment succeeded")
    assert len(stops) == 2 and max(stops) == draining + delay
    assert max(stops) <= succeeded < max(stops) + 1


def test_the_metrics_frame_lists_each_reported_datapoint_of_each_period():
    # Per period of the run: counts' Sum on each dimension (the ELB's own codes on the load
    # balancer only), TargetResponseTime's Average, Maximum, p50 and p99, and the host counts
    # of the target groups only. A missing datapoint is left out; RequestCount is reported
    # as 0 for a period without requests.
    frame = metrics_frame(_filled_store(), 120.0)
    got = {
        (row.time_s, row.dimension, row.metric, row.statistic): row.value
        for row in frame.itertuples()
    }
    trt = {"Average": None, "Maximum": None, "p50": None, "p99": None}
    expected = {}
    for dim, counts, hosts in (
        (
            "load_balancer",
            {
                "RequestCount": 12,
                "HTTPCode_Target_2XX_Count": 11,
                "HTTPCode_Target_5XX_Count": 1,
                "HTTPCode_ELB_5XX_Count": 2,
                "HTTPCode_ELB_503_Count": 2,
            },
            {},
        ),
        (
            "blue",
            {"RequestCount": 11, "HTTPCode_Target_2XX_Count": 10, "HTTPCode_Target_5XX_Count": 1},
            {
                ("HealthyHostCount", "Average"): 1.1,
                ("HealthyHostCount", "Minimum"): 0.0,
                ("UnHealthyHostCount", "Average"): 0.9,
                ("UnHealthyHostCount", "Maximum"): 2.0,
            },
        ),
        (
            "green",
            {"RequestCount": 1, "HTTPCode_Target_2XX_Count": 1},
            {
                ("HealthyHostCount", "Average"): 0.0,
                ("HealthyHostCount", "Minimum"): 0.0,
                ("UnHealthyHostCount", "Average"): 0.0,
                ("UnHealthyHostCount", "Maximum"): 0.0,
            },
        ),
    ):
        for metric, value in counts.items():
            expected[(0.0, dim, metric, "Sum")] = value
        for stat in trt:
            expected[(0.0, dim, "TargetResponseTime", stat)] = None  # checked below
        for (metric, stat), value in hosts.items():
            expected[(0.0, dim, metric, stat)] = value
        expected[(60.0, dim, "RequestCount", "Sum")] = 0.0
    assert set(got) == set(expected)
    for key, value in expected.items():
        if value is not None:
            assert got[key] == value, key
    assert got[(0.0, "blue", "TargetResponseTime", "Maximum")] == 0.5
    assert got[(0.0, "green", "TargetResponseTime", "p50")] == pytest.approx(0.2)
    assert got[(0.0, "load_balancer", "TargetResponseTime", "Average")] == pytest.approx(1.25 / 12)
    # periods cover [0, end): a shorter period gives more rows, none at ``end`` itself
    times = sorted(set(metrics_frame(_filled_store(), 120.0, period=30.0)["time_s"]))
    assert times == [0.0, 30.0, 60.0, 90.0]
    # a run that ends within a period reports that last, partial period
    times = sorted(set(metrics_frame(_filled_store(), 90.5, period=30.0)["time_s"]))
    assert times == [0.0, 30.0, 60.0, 90.0]
    assert metrics_frame(MetricStore(60.0), 0.0).empty


def test_the_store_grows_to_hold_any_time_written_or_read():
    # a store made for 10 s (three 10 s buckets) takes samples and responses long after
    store = MetricStore(10.0)
    for t in (30.0, 500.0):  # the first lands just past the end of the arrays
        store.sample_hosts(t, t + 1.0, [(3, 1), (0, 0)])
    store.sample_hosts(501.0, 502.0, [(2, 0), (0, 0)])  # written by the next read
    one = np.array([0.05])
    ids = hist_bucket(one * 1000)
    store.add(np.array([1000.0]), np.array([200], np.int16), np.array([BLUE], np.int8), one, ids)
    assert store.datapoint("HealthyHostCount", BLUE_TG, "Maximum", 30.0, 40.0) == 3.0
    assert store.datapoint("UnHealthyHostCount", BLUE_TG, "Minimum", 30.0, 40.0) == 1.0
    assert store.datapoint("HealthyHostCount", BLUE_TG, "Average", 500.0, 510.0) == 2.5
    assert store.datapoint("RequestCount", BLUE_TG, "Sum", 1000.0, 1010.0) == 1.0
    assert store.datapoint("RequestCount", BLUE_TG, "Sum", 5000.0, 5060.0) == 0.0  # nothing yet
    assert store.datapoint("RequestCount", BLUE_TG, "Sum", -60.0, 0.0) is None  # before the run


def test_a_histogram_counts_every_batch_in_its_range_whatever_the_order_they_came_in():
    # Records normally arrive in time order, and a histogram then skips those before its
    # range by bisection; once one comes out of order (starting earlier, or ending before
    # the one before it) every later read must look at all of them.
    store = MetricStore(200.0)
    expected = np.zeros(14, int)
    for buckets in ([5, 6, 7, 8], [6], [0, 1], [2, 3], [10, 11], [12]):
        n = len(buckets)
        latency = np.full(n, 1e-5)  # 10 µs: the lowest latency bucket, id 1
        store.add(
            np.array(buckets) * 10.0 + 5.0,
            np.full(n, 200, np.int16),
            np.full(n, BLUE, np.int8),
            latency,
            hist_bucket(latency * 1000),
        )
        expected[buckets] += 1
        for b0 in range(14):
            for b1 in range(b0 + 1, 15):
                assert store.histogram(LB_, b0, b1).sum() == expected[b0:b1].sum(), (b0, b1)
                assert store.histogram(BLUE_TG, b0, b1).sum() == expected[b0:b1].sum()
                assert store.histogram(GREEN_TG, b0, b1).sum() == 0


def test_an_overload_fault_keeps_windows_one_by_one_whatever_faults_join_it():
    # Utilisation is measured per window, so while any task carries an overload fault the data
    # plane serves each window on its own; another fault set on a task afterwards (an error
    # rate, a latency) must not switch that off.
    world = World(scenario_from_dict({"duration": 60}), 1, False)
    blue = world.task_sets["blue"]
    first, second = blue.tasks[0], blue.tasks[1]
    assert not world.dataplane.table.overload_faults
    first.overload_error_rate = 0.5
    second.extra_error_rate = 0.1
    second.latency_add = 0.2
    assert world.dataplane.table.overload_faults  # DataPlane._serve_now reads this switch

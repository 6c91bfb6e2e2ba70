"""Load patterns, service-time distributions and load-balancer rules, one rule per test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import constant, health_checks, service

from bluegreen_sim.engine.arrivals import ArrivalProcess
from bluegreen_sim.engine.simulation import Streams, World, simulate
from bluegreen_sim.scenario import load_scenario, scenario_from_dict


def arrivals(raw, seed=1, window=1.0):
    sc = scenario_from_dict(raw)
    process = ArrivalProcess(sc, Streams.from_seed(seed).arrivals)
    t, out = 0.0, []
    while t < sc.duration:
        out.append(process.arrivals(t, min(t + window, sc.duration)))
        t += window
    return np.concatenate(out)


def poisson_ok(k, mean, z=4.0):
    return abs(k - mean) <= z * math.sqrt(mean) + 1


def test_step_pattern_changes_the_rate_at_each_step():
    a = arrivals(
        {
            "duration": 300,
            "load": {
                "rps": 50,
                "pattern": "step",
                "steps": [{"at": 100, "rps": 200}, {"at": 200, "rps": 10}],
            },
        }
    )
    assert poisson_ok(((a >= 0) & (a < 100)).sum(), 5000)
    assert poisson_ok(((a >= 100) & (a < 200)).sum(), 20000)
    assert poisson_ok(((a >= 200) & (a < 300)).sum(), 1000)


def test_trace_pattern_is_piecewise_constant(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("time_s,rps\n0,20\n60,100\n90.5,0\n")
    sc_file = tmp_path / "s.yaml"
    sc_file.write_text("duration: 120\nload: {pattern: trace, trace: trace.csv}\n")
    sc = load_scenario(sc_file)
    process = ArrivalProcess(sc, Streams.from_seed(2).arrivals)
    a = np.concatenate([process.arrivals(t, t + 1.0) for t in range(120)])
    assert poisson_ok(((a >= 0) & (a < 60)).sum(), 1200)
    assert poisson_ok(((a >= 60) & (a < 90.5)).sum(), 3050)
    assert (a >= 90.5).sum() == 0


def test_ramp_and_diurnal_follow_their_curves():
    ramp = arrivals({"duration": 200, "load": {"rps": 0, "pattern": "ramp", "ramp_to": 100}})
    # ∫ 100 t/200 dt over [0, 200] = 10,000; over the first half a quarter of that
    assert poisson_ok(len(ramp), 10000) and poisson_ok((ramp < 100).sum(), 2500)
    d = arrivals(
        {
            "duration": 600,
            "load": {"rps": 100, "pattern": "diurnal", "period": 600, "amplitude": 0.5},
        }
    )
    # sinusoid: the first half-period carries (1 + 2·0.5/π) of its mean share
    assert poisson_ok((d < 300).sum(), 100 * 300 * (1 + 1 / math.pi))
    assert poisson_ok((d >= 300).sum(), 100 * 300 * (1 - 1 / math.pi))


def test_uniform_arrivals_are_evenly_spaced_across_windows():
    a = arrivals({"duration": 10, "load": {"rps": 4, "arrivals": "uniform"}}, window=0.3)
    # the k-th arrival when the cumulative intensity reaches k: 0.25, 0.5, ..., 9.75 (10.0
    # would open the next window), whatever the window boundaries (0.3 s here)
    np.testing.assert_allclose(a, np.arange(1, 40) * 0.25, atol=1e-9)


def test_empirical_service_times_come_from_the_csv(tmp_path):
    (tmp_path / "svc.csv").write_text("latency_ms\n10\n20\n30\n40\n")
    (tmp_path / "s.yaml").write_text(
        "duration: 300\nload: {rps: 20}\n"
        "service: {tasks: 4, latency: {distribution: empirical, file: svc.csv}}\n"
        "load_balancer: {health_check: {enabled: false}}\n"
    )
    res = simulate(load_scenario(tmp_path / "s.yaml"), seed=1, record_requests=True)
    service = (res.requests["finish_s"] - res.requests["start_s"]).round(6)
    assert set(service.unique()) == {0.01, 0.02, 0.03, 0.04}
    assert service.mean() == pytest.approx(0.025, rel=0.03)


def test_initial_checks_parameter_sets_how_many_probes_make_a_new_target_healthy():
    def healthy_after(checks):
        sc = scenario_from_dict(
            {
                "duration": 200,
                "load": {"rps": 5},
                "service": {"tasks": 1, "startup": constant(20)},
                "load_balancer": {"health_check": health_checks(10, initial_checks=checks)},
                "deployment": {
                    "controller": "steps",
                    "start": 0,
                    "steps": [{"weight": 100, "pause": 10}],
                },
            }
        )
        ev = simulate(sc, seed=1).events
        reg = ev.loc[ev["event"] == "target registered", "time_s"].iloc[0]
        ok = ev.loc[(ev["event"] == "target healthy"), "time_s"].iloc[0]
        return ok - reg

    # the first probe goes at registration; each further check one interval later
    assert healthy_after(1) < 1
    assert 40 < healthy_after(5) < 41


def test_fail_open_routes_to_all_targets_when_none_is_healthy():
    sc = scenario_from_dict({"duration": 10, "service": {"tasks": 3}})
    world = World(sc, 1, False)
    group = world.alb.target_group("blue")
    assert len(group.in_service()[0]) == 3
    tasks = list(group.targets)
    tasks[0].health = "unhealthy"
    assert group.in_service()[0] == tasks[1:]
    for t in tasks:
        t.health = "unhealthy"
    # "if a target group contains only unhealthy registered targets, the load balancer routes
    # requests to all those targets" (ALB user guide)
    assert group.in_service()[0] == tasks
    assert group.counts() == (0, 3)


def test_slow_start_ramps_a_new_targets_share_linearly():
    # One blue task crashes and ECS replaces it; with a 120 s slow start the new target's
    # share of requests grows linearly from about 0 to an equal share.
    sc = scenario_from_dict(
        {
            "duration": 400,
            "load": {"rps": 100},
            "service": service(4, mean=0.005, startup=10),
            "load_balancer": {
                "slow_start": 120,
                "health_check": health_checks(5, healthy_threshold=2),
            },
            "faults": [{"kind": "crash", "revision": "blue", "at": 100, "fraction": 0.3}],
        }
    )
    res = simulate(sc, seed=4, record_requests=True)
    ev = res.events
    replaced = ev.loc[ev["event"] == "target healthy", "detail"].str.split(":").str[0]
    assert len(replaced) >= 1
    name = replaced.iloc[0]
    healthy_at = ev.loc[
        (ev["event"] == "target healthy") & ev["detail"].str.startswith(name), "time_s"
    ].iloc[0]
    req = res.requests
    others = req[req["task"] != name]
    n_other_tasks = others.loc[others["arrival_s"] > healthy_at, "task"].nunique()
    for lo, hi in ((healthy_at + 10, healthy_at + 40), (healthy_at + 60, healthy_at + 90)):
        window = req[(req["arrival_s"] >= lo) & (req["arrival_s"] < hi)]
        share = (window["task"] == name).mean()
        ramp = ((lo + hi) / 2 - healthy_at) / 120
        expected = ramp / (ramp + n_other_tasks)
        assert share == pytest.approx(expected, rel=0.25)
    after = req[req["arrival_s"] >= healthy_at + 150]
    assert (after["task"] == name).mean() == pytest.approx(1 / (n_other_tasks + 1), rel=0.15)

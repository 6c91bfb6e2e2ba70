"""Long-lived connections: dropped together when their target stops, back within the jitter.

The expected figures are arithmetic: every connection open on a stopped target is dropped and
its client sends exactly one handshake within ``reconnect_jitter`` of the drop; with evenly
spaced requests at r/s, a jitter window of J seconds then holds r × J requests (± 1) plus the
dropped connections. Terminating blue at once makes that burst N/J handshakes a second; spreading
the termination (a rolling update, one task at a time) divides it by the number of tasks.
"""

from __future__ import annotations

import numpy as np
import pytest

from bluegreen_sim import simulate
from bluegreen_sim.engine.simulation import World, _result
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict

HC = {"interval": "10s", "timeout": "5s", "healthy_threshold": 3, "unhealthy_threshold": 2}


def _storm(count=2000, jitter="10s", lifetime=None, rps=100, **extra) -> dict:
    raw = {
        "name": "storm",
        "duration": "12m",
        "seed": 1,
        "load": {
            "rps": rps,
            "arrivals": "uniform",
            "connections": {
                "count": count,
                "lifetime": lifetime or {"distribution": "exponential", "mean": "30m"},
                "reconnect_jitter": jitter,
            },
        },
        "service": {"tasks": 10, "concurrency": 1},  # one request at a time: bursts queue
        "load_balancer": {"deregistration_delay": "30s", "health_check": HC},
        "deployment": {
            "controller": "codedeploy",
            "start": "60s",
            "config": "CodeDeployDefault.ECSAllAtOnce",
            "termination_wait": "0s",
        },
    }
    raw.update(extra)
    return raw


def _run(raw, record_requests=False):
    world = World(scenario_from_dict(raw), 1, record_requests)
    world.run()
    return world, _result(world, 1)


def test_a_reconnect_burst_carries_the_dropped_connections_within_the_jitter_window():
    # Lifetimes so long that no connection ends by itself: every handshake is a reconnect.
    forever = {"distribution": "constant", "value": "10000h"}
    world, result = _run(_storm(lifetime=forever), record_requests=True)
    pool = world.connections
    s = result.summary
    assert s["outcome"] == "SUCCEEDED"
    # Blue's ten targets stop together, holding all 2000 connections (200 each).
    assert len(pool.drops) == 10
    assert [d["dropped"] for d in pool.drops] == [200] * 10
    assert len({d["time_s"] for d in pool.drops}) == 1
    start, end = pool.drops[0]["window_start_s"], pool.drops[0]["window_end_s"]
    assert end - start == 10
    assert start - pool.drops[0]["time_s"] <= 1  # no later than the next data-plane window
    assert s["connections_dropped"] == s["connection_handshakes"] == 2000
    # Every reconnect falls in the window, one per dropped connection.
    seconds = np.flatnonzero(pool.reconnects_per_s)
    assert seconds.min() >= int(start) and seconds.max() < end
    assert pool.reconnects_per_s.sum() == 2000
    # The requests in the window: the evenly spaced load (100/s × 10 s) plus the burst.
    req = result.requests
    inside = req[(req["arrival_s"] >= start) & (req["arrival_s"] < end)]
    assert len(inside) == pytest.approx(100 * 10 + 2000, abs=1)
    assert (inside["revision"] == "green").all()


def test_open_connections_keep_a_target_draining_for_the_whole_delay():
    # Clients that close their request connections (not keep-alive): only the long-lived
    # connections can hold the target for the whole delay.
    raw = _storm()
    raw["load_balancer"]["client_connections"] = "close"
    _world, result = _run(raw)
    ev = result.events
    draining = ev[(ev["event"] == "target draining") & ev["detail"].str.startswith("blue-1 ")]
    done = ev[(ev["event"] == "target deregistered") & (ev["detail"] == "blue-1")]
    assert done["time_s"].iloc[0] - draining["time_s"].iloc[0] == 30
    # Without long-lived connections the idle target deregisters as soon as it is drained.
    raw = _storm(count=0)
    raw["load_balancer"]["client_connections"] = "close"
    result = simulate(scenario_from_dict(raw))
    ev = result.events
    draining = ev[(ev["event"] == "target draining") & ev["detail"].str.startswith("blue-1 ")]
    done = ev[(ev["event"] == "target deregistered") & (ev["detail"] == "blue-1")]
    assert done["time_s"].iloc[0] - draining["time_s"].iloc[0] < 5
    assert result.summary["connections_dropped"] is None


def test_terminating_blue_at_once_makes_a_storm_and_spreading_it_out_does_not():
    at_once = simulate(scenario_from_dict(_storm())).summary
    rolling = _storm(
        deployment={"controller": "ecs", "strategy": "ROLLING", "start": "60s"},
    )
    rolling["service"]["maximum_percent"] = 110  # one old task at a time
    spread = simulate(scenario_from_dict(rolling)).summary
    # At once: about all 2000 connections in 10 s, i.e. ~200 handshakes a second at the peak.
    assert at_once["reconnect_peak_per_s"] >= 150
    # One task at a time: about a tenth of them per drop.
    assert spread["reconnect_peak_per_s"] <= 60
    assert at_once["worst_minute_p99_ms"] > 5 * spread["worst_minute_p99_ms"]


def test_connections_at_the_start_are_spread_evenly_with_equilibrium_lifetimes():
    raw = _storm(count=20000, lifetime={"distribution": "exponential", "mean": "10m"})
    world = World(scenario_from_dict(raw), 1, False)
    pool = world.connections
    counts = np.bincount(pool.task)[pool.task.min() :]
    assert counts.max() - counts.min() <= 1
    # Exponential lifetimes are memoryless: the residual has the same mean (600 s).
    assert pool.ends_at.mean() == pytest.approx(600, rel=0.05)


def test_a_connection_lifetime_must_be_sensible():
    raw = _storm(lifetime={"distribution": "constant", "value": "100ms"})
    with pytest.raises(ScenarioError, match="at least 1s"):
        scenario_from_dict(raw)


def test_the_results_do_not_depend_on_how_the_data_plane_batches_its_windows(monkeypatch):
    from bluegreen_sim.engine import dataplane

    raw = _storm(count=500)
    # without health-check probes the data plane serves up to 30 s of windows in one pass
    raw["load_balancer"]["health_check"] = {"enabled": False}
    batched = simulate(scenario_from_dict(raw))
    monkeypatch.setattr(dataplane, "MAX_SPAN", 0.5)  # every window served on its own
    one_by_one = simulate(scenario_from_dict(raw))
    keys = ("requests_total", "connection_handshakes", "connections_dropped", "requests_failed")
    assert {k: batched.summary[k] for k in keys} == {k: one_by_one.summary[k] for k in keys}
    # the same requests served alike (sums of latencies differ only in their rounding order)
    mean = batched.summary["latency_mean_ms"]
    assert one_by_one.summary["latency_mean_ms"] == pytest.approx(mean, rel=1e-12)
    columns = ["requests_blue", "requests_green"]
    assert batched.timeline[columns].equals(one_by_one.timeline[columns])

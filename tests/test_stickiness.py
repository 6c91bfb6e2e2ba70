"""Clients and target-group stickiness (AWS_FACTS correction 5; docs/semantics.md §3).

The vectorised cookie rules of :mod:`bluegreen_sim.engine.clients` are checked against a plain
request-by-request reading of them; then two small deployments show what the documentation
implies: with stickiness a 10 % canary reaches about 10 % of the clients (without it, most of
them), and after a rollback green still gets the sticky clients' requests, answered 503, until
their cookies expire.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bluegreen_sim import simulate
from bluegreen_sim.engine.clients import Clients
from bluegreen_sim.scenario import ScenarioError, scenario_from_dict


def _reference(clients: Clients, time, drawn, client, alive):
    """The cookie rules, one request at a time (mutates ``clients``' cookies)."""
    rev = np.empty(len(time), np.int8)
    for i in range(len(time)):
        c, t = client[i], time[i]
        if clients.group[c] >= 0 and t - clients.renewed[c] < clients.duration:
            g = clients.group[c]
            rev[i] = g
            if alive[g]:
                clients.renewed[c] = t
        else:
            g = drawn[i]
            rev[i] = g
            if alive[g]:
                clients.group[c], clients.renewed[c] = g, t
            else:
                clients.group[c] = -1
    return rev


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_cookies_match_the_request_by_request_rules(seed):
    rng = np.random.default_rng(seed)
    size, duration = 7, float(rng.choice([0.5, 2.0, 5.0]))
    fast = Clients(size, duration, np.random.default_rng(seed + 100))
    slow = Clients(size, duration, np.random.default_rng(seed + 100))
    t0 = 0.0
    for batch in range(12):
        n = int(rng.integers(0, 40))
        time = np.sort(t0 + rng.random(n) * 3.0)
        drawn = (rng.random(n) < rng.random()).astype(np.int8)
        alive = (bool(rng.random() < 0.8), bool(rng.random() < 0.6))
        got = fast.route(time, drawn, alive)
        client = slow.rng.integers(0, size, n)  # the same client draws as fast's
        want = _reference(slow, time, drawn, client, alive)
        slow.reached_green[client[want == 1]] = True
        np.testing.assert_array_equal(got, want, err_msg=f"batch {batch}")
        np.testing.assert_array_equal(fast.group, slow.group)
        assert np.array_equal(fast.renewed, slow.renewed)
        t0 += 3.0
    np.testing.assert_array_equal(fast.reached_green, slow.reached_green)


def _canary(stickiness, *, green_error_rate=0.0, duration="4m", alarm=False):
    """500 clients at 40 rps in all, from 60 s on; the steps controller holds a 10 % canary
    from about 16 s (four tasks a colour, about half busy; green's start in 15 s)."""
    raw = {
        "name": "sticky-canary",
        "duration": duration,
        "load": {
            "rps": 40,
            "pattern": "step",
            "steps": [{"at": 0, "rps": 0}, {"at": "60s", "rps": 40}],
            "clients": 500,
        },
        "service": {"tasks": 4, "startup": {"distribution": "constant", "value": "15s"}},
        "green": {"error_rate": green_error_rate},
        "load_balancer": {
            "deregistration_delay": "5s",
            "target_group_stickiness": stickiness,
            "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
        },
        "deployment": {
            "controller": "steps",
            "start": "0s",
            "steps": [{"weight": 10, "pause": "10m"}, {"weight": 100}],
        },
    }
    if alarm:
        raw["alarms"] = [
            {
                "name": "green-5xx",
                "metric": "HTTPCode_Target_5XX_Count",
                "target_group": "green",
                "statistic": "Sum",
                "period": "60s",
                "threshold": 5,
                "treat_missing_data": "notBreaching",
            }
        ]
        raw["deployment"]["alarms"] = ["green-5xx"]
    return scenario_from_dict(raw)


def test_a_sticky_canary_reaches_about_its_share_of_clients():
    # Every client comes ~14 times during the canary (and every one comes: P(none) = e^-14).
    # With a cookie for 1 h each keeps its first group: Binomial(500, 0.1) reach green.
    sticky = simulate(_canary("1h"), seed=1).summary
    assert sticky["outcome"] == "IN_PROGRESS"
    reached = sticky["clients_reached_green"]
    sd = math.sqrt(500 * 0.1 * 0.9)
    assert abs(reached - 50) < 3.5 * sd
    # ... and their requests are about 10 % of all, as the weight says.
    assert sticky["requests_green"] / sticky["requests_total"] == pytest.approx(0.1, abs=0.04)
    # Without stickiness each request is split on its own: 1 - 0.9^14.4 ≈ 78 % of the clients.
    loose = simulate(_canary(0), seed=1).summary
    assert loose["requests_total"] == sticky["requests_total"]  # common random numbers
    assert 0.70 < loose["clients_reached_green"] / 500 < 0.86


def test_after_a_rollback_sticky_clients_reach_green_until_their_cookies_expire():
    run = simulate(
        _canary("60s", green_error_rate=0.3, duration="6m", alarm=True),
        seed=1,
        record_requests=True,
    )
    s = run.summary
    assert s["outcome"] == "ROLLED_BACK"
    back = s["rollback_start_s"]
    req = run.requests
    late = req[(req["revision"] == "green") & (req["arrival_s"] > back)]
    # Green's targets are draining, so these requests end as ELB 503, without renewing the
    # cookie: the last comes less than one duration after the rollback.
    assert len(late) > 50
    assert set(late["status"]) == {503}
    assert back + 30 < late["arrival_s"].max() < back + 60 + 1
    # Without stickiness the reroute reaches every client at once.
    loose = simulate(
        _canary(0, green_error_rate=0.3, duration="6m", alarm=True), seed=1, record_requests=True
    )
    q = loose.requests
    assert loose.summary["rollback_start_s"] == back
    assert not ((q["revision"] == "green") & (q["arrival_s"] > back + 1)).any()


def _cutover(stickiness):
    """500 clients at 40 rps; at 60 s the steps controller shifts everything to green at once and
    removes blue (a 5 s deregistration delay)."""
    return scenario_from_dict(
        {
            "name": "sticky-cutover",
            "duration": "4m",
            "load": {"rps": 40, "clients": 500},
            "service": {"tasks": 4, "startup": {"distribution": "constant", "value": "15s"}},
            "load_balancer": {
                "deregistration_delay": "5s",
                "target_group_stickiness": stickiness,
                "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
            },
            "deployment": {"controller": "steps", "start": "60s", "steps": [{"weight": 100}]},
        }
    )


def test_a_cutover_that_removes_blue_at_once_fails_its_sticky_clients_until_expiry():
    # Every client holds a blue cookie when the weights move; blue's targets drain at once, so
    # the clients' requests go on to blue and end as 503 until their cookies (60 s) expire.
    sticky = simulate(_cutover("60s"), seed=1, record_requests=True)
    loose = simulate(_cutover(0), seed=1, record_requests=True)
    assert sticky.summary["outcome"] == loose.summary["outcome"] == "SUCCEEDED"
    ev = sticky.events
    shift = ev.loc[ev["event"] == "production traffic shifted", "time_s"].min()
    req = sticky.requests
    late = req[(req["revision"] == "blue") & (req["arrival_s"] >= shift)]
    assert set(late["status"]) == {503}
    assert shift + 45 < late["arrival_s"].max() < shift + 60 + 1
    # About a minute of the whole load: ~40/s for up to 60 s, fewer as cookies expire.
    assert 1000 < len(late) < 40 * 60
    assert sticky.summary["requests_503"] == len(late)
    assert loose.summary["requests_503"] == 0


def test_stickiness_needs_clients_and_an_aws_duration():
    raw = {"load_balancer": {"target_group_stickiness": "1h"}}
    with pytest.raises(ScenarioError, match=r"target_group_stickiness.*needs load\.clients"):
        scenario_from_dict(raw)
    raw = {"load": {"clients": 10}, "load_balancer": {"target_group_stickiness": "8d"}}
    with pytest.raises(ScenarioError, match=r"between 1s and 7 days"):
        scenario_from_dict(raw)

"""Sanity tests of tests/reference_model.py.

The reference model is only useful if it is right, so it is checked two ways:
statistically against closed forms (tests/theory.py) inside batch-means
confidence intervals, and rule by rule (502, 503, 504, weights, draining) on
small fixed-seed runs, where possible against an independent recomputation
rather than the model's own bookkeeping.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

# pytest's importlib import mode does not put tests/ on sys.path; do it here so
# the helper modules import the same way under every import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import theory
from reference_model import RefConfig, run_reference, to_rows

EXP_10MS = {"distribution": "exponential", "mean": 0.010}


def _blue(n: int = 1, **kw) -> list[dict]:
    return [{"revision": "blue", **kw} for _ in range(n)]


def _green(n: int = 1, **kw) -> list[dict]:
    return [{"revision": "green", **kw} for _ in range(n)]


# --------------------------------------------------------------------------- #
# Statistical agreement with queueing theory
# --------------------------------------------------------------------------- #
def test_single_target_is_mm1_at_rho_05():
    lam, mu = 50.0, 100.0
    r = run_reference(
        RefConfig(duration=1000.0, rps=lam, targets=_blue(), service=EXP_10MS, seed=11)
    )
    assert np.all(r["status"] == 200)
    ref = theory.mmc(lam, mu, 1)
    ci = theory.batch_means_ci(r["latency_ms"] / 1000.0)
    assert ci.contains(ref["w"]), (ci, ref["w"])
    # Resolution check: a 10 % heavier load (rho = 0.55, W = 22.2 ms) is excluded.
    assert not ci.contains(theory.mmc(55.0, mu, 1)["w"]), ci
    waited = (r["start_s"] - r["arrival_s"]) > 0
    assert theory.batch_means_ci(waited).contains(ref["p_wait"])
    # Poisson arrivals: the count is within 4 sd of lam * duration.
    assert abs(r["arrival_s"].size - 50_000) < 4 * math.sqrt(50_000)


def test_one_task_with_ten_slots_is_mmc():
    # One task, concurrency 10 = one shared FIFO queue: Erlang C applies.
    lam, mu, c = 8.0, 1.0, 10
    r = run_reference(
        RefConfig(
            duration=6000.0,
            rps=lam,
            targets=_blue(concurrency=c),
            service={"distribution": "exponential", "mean": 1.0 / mu},
            seed=5,
        )
    )
    wait = r["start_s"] - r["arrival_s"]
    ref = theory.mmc(lam, mu, c)
    assert theory.batch_means_ci(wait).contains(ref["wq"])
    assert theory.batch_means_ci(wait > 0).contains(ref["p_wait"])


@pytest.mark.parametrize("routing", ["round_robin", "weighted_random"])
def test_routing_over_ten_targets_matches_section_2_3(routing):
    # ENGINE_NOTES 2.3: same ten servers, RR gives E10/M/1 (W = 23.4 ms), random
    # gives M/M/1 per target (W = 40 ms). The two CIs are far apart, so each
    # test fails if the routing rule is swapped.
    if routing == "round_robin":
        ref = theory.ecm1(1000.0, 125.0, 10)
    else:
        ref = theory.mmc(100.0, 125.0, 1)
    r = run_reference(
        RefConfig(
            duration=60.0,
            rps=1000.0,
            targets=_blue(10),
            routing=routing,
            service={"distribution": "exponential", "mean": 0.008},
            seed=3,
        )
    )
    assert theory.batch_means_ci(r["latency_ms"] / 1000.0).contains(ref["w"])
    assert theory.batch_means_ci((r["start_s"] - r["arrival_s"]) > 0).contains(ref["p_wait"])
    if routing == "round_robin":  # RR spreads requests exactly evenly
        counts = np.bincount(r["task"], minlength=10)
        assert counts.max() - counts.min() <= 1


def test_lognormal_service_has_requested_median_and_p99():
    # Light load (rho ~ 0.05) so latency is almost pure service time.
    r = run_reference(
        RefConfig(
            duration=1000.0,
            rps=20.0,
            targets=_blue(20),
            service={"distribution": "lognormal", "median": 0.040, "p99": 0.150},
            seed=2,
        )
    )
    service = r["end_s"] - r["start_s"]
    assert np.median(service) == pytest.approx(0.040, rel=0.03)
    assert np.quantile(service, 0.99) == pytest.approx(0.150, rel=0.08)


# --------------------------------------------------------------------------- #
# Rules
# --------------------------------------------------------------------------- #
def test_kill_gives_502_exactly_to_requests_in_flight():
    # Common random numbers: the run without the kill sees the same arrivals,
    # routing and service times up to the kill, so it tells independently which
    # requests were at task 0 and unfinished at the kill time.
    # rho = 0.9 per task so that, with this seed, 2 requests are in service
    # and 6 are queued at task 0 when it is killed.
    kill = 20.0
    base = {"duration": 40.0, "rps": 360.0, "service": EXP_10MS, "seed": 4}
    alive = run_reference(RefConfig(targets=_blue(2, concurrency=2), **base))
    targets = _blue(2, concurrency=2)
    targets[0] = {**targets[0], "stop": kill}
    killed = run_reference(RefConfig(targets=targets, **base))

    before = killed["arrival_s"] < kill
    np.testing.assert_array_equal(killed["arrival_s"], alive["arrival_s"])
    np.testing.assert_array_equal(killed["task"][before], alive["task"][before])
    expected_502 = before & (alive["task"] == 0) & (alive["end_s"] > kill)
    is_502 = killed["status"] == 502
    queued = expected_502 & (alive["start_s"] >= kill)
    assert expected_502.sum() == 8 and queued.sum() == 6  # both cases are exercised
    np.testing.assert_array_equal(is_502, expected_502)
    # Killed in the queue: never started. Killed in service: started as before.
    assert np.all(np.isnan(killed["start_s"][queued]))
    in_service = expected_502 & ~queued
    np.testing.assert_array_equal(killed["start_s"][in_service], alive["start_s"][in_service])
    assert np.all(killed["finish_s"][is_502] == kill)
    assert np.all(killed["end_s"][is_502] == kill)
    # Everything else at task 0 before the kill is untouched by it.
    kept = before & (killed["task"] == 0) & ~is_502
    np.testing.assert_array_equal(killed["end_s"][kept], alive["end_s"][kept])
    # Nothing is routed to a dead task, and the survivor takes all later traffic.
    assert not np.any((killed["task"] == 0) & ~before)
    assert np.all(killed["status"][~before] == 200)


def test_zero_green_weight_sends_nothing_to_green():
    r = run_reference(
        RefConfig(
            duration=50.0, rps=100.0, targets=_blue(2) + _green(2), weights=[(0.0, 0.0)], seed=4
        )
    )
    assert r["arrival_s"].size > 4000
    assert not np.any(r["revision"] == "green")
    assert set(r["task"].tolist()) == {0, 1}


def test_piecewise_weights_apply_by_arrival_time():
    r = run_reference(
        RefConfig(
            duration=30.0,
            rps=200.0,
            targets=_blue(2) + _green(2),
            weights=[(0.0, 0.0), (10.0, 10.0), (20.0, 100.0)],
            seed=6,
        )
    )
    green = r["revision"] == "green"
    t = r["arrival_s"]
    assert not np.any(green[t < 10.0])
    assert np.all(green[t >= 20.0])
    canary = green[(t >= 10.0) & (t < 20.0)]
    # Binomial(~2000, 0.1): 4 sd is about 0.027.
    assert abs(canary.mean() - 0.10) < 4 * math.sqrt(0.1 * 0.9 / canary.size)
    assert np.all(np.isin(r["task"][green], [2, 3]))


def test_503_when_weighted_group_has_no_target():
    r = run_reference(
        RefConfig(
            duration=40.0,
            rps=100.0,
            # Green has a task, but it only enters service at t = 20.
            targets=_blue(2) + _green(1, start=20.0),
            weights=[(0.0, 50.0)],
            seed=9,
        )
    )
    green = r["revision"] == "green"
    early = r["arrival_s"] < 20.0
    is_503 = r["status"] == 503
    np.testing.assert_array_equal(is_503, green & early)
    assert is_503.sum() > 500
    assert np.all(r["latency_ms"][is_503] == 0.0)
    assert np.all(r["task"][is_503] == -1)
    assert np.all(np.isnan(r["start_s"][is_503]))
    assert np.all(r["status"][~is_503] == 200)


def test_draining_task_gets_no_new_requests_but_finishes_its_own():
    targets = _blue(2)
    targets[0] = {**targets[0], "drain_at": 10.0, "stop": 15.0}
    r = run_reference(
        RefConfig(duration=20.0, rps=100.0, targets=targets, service=EXP_10MS, seed=12)
    )
    at0 = r["task"] == 0
    assert at0.sum() > 300
    assert r["arrival_s"][at0].max() < 10.0
    assert np.all(r["status"] == 200)  # nothing still in flight when killed at 15 s


def test_all_targets_draining_gives_503():
    targets = _blue(1, drain_at=5.0)
    r = run_reference(RefConfig(duration=10.0, rps=50.0, targets=targets, seed=1))
    np.testing.assert_array_equal(r["status"] == 503, r["arrival_s"] >= 5.0)


def test_idle_timeout_gives_504_and_slot_stays_busy():
    # Constant 0.6 s service, concurrency 1, idle timeout 1 s: a request is 504
    # exactly when it waited more than 0.4 s. An independent FIFO loop checks
    # that a timed-out request still occupies the slot for its full service.
    timeout, service = 1.0, 0.6
    r = run_reference(
        RefConfig(
            duration=300.0,
            rps=1.4,
            targets=_blue(),
            service={"distribution": "constant", "mean": service},
            idle_timeout=timeout,
            seed=13,
        )
    )
    free_at, start = -math.inf, []
    for a in r["arrival_s"]:
        start.append(max(a, free_at))
        free_at = start[-1] + service
    np.testing.assert_allclose(r["start_s"], start, rtol=0, atol=1e-9)
    late = np.asarray(start) + service - r["arrival_s"] > timeout
    assert late.sum() > 20 and (~late).sum() > 20
    np.testing.assert_array_equal(r["status"] == 504, late)
    assert np.all(r["status"][~late] == 200)
    np.testing.assert_allclose(
        r["finish_s"][late], r["arrival_s"][late] + timeout, rtol=0, atol=1e-12
    )
    assert np.all(r["end_s"][late] > r["finish_s"][late])
    assert np.all(r["latency_ms"] <= timeout * 1000 + 1e-9)


def test_error_rate_is_per_revision():
    r = run_reference(
        RefConfig(
            duration=50.0,
            rps=200.0,
            targets=_blue(2) + _green(2),
            weights=[(0.0, 50.0)],
            error_rate={"green": 0.2},
            seed=14,
        )
    )
    green = r["revision"] == "green"
    assert not np.any(r["status"][~green] == 500)
    frac = (r["status"][green] == 500).mean()
    assert abs(frac - 0.2) < 4 * math.sqrt(0.2 * 0.8 / green.sum())
    assert set(np.unique(r["status"]).tolist()) == {200, 500}


def test_seed_reproducibility_and_rows():
    cfg = {"duration": 5.0, "rps": 100.0, "targets": _blue(2), "service": EXP_10MS}
    a = run_reference(RefConfig(seed=1, **cfg))
    b = run_reference(RefConfig(seed=1, **cfg))
    c = run_reference(RefConfig(seed=2, **cfg))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["arrival_s"].size != c["arrival_s"].size or not np.array_equal(
        a["arrival_s"], c["arrival_s"]
    )
    rows = to_rows(a)
    assert len(rows) == a["arrival_s"].size
    assert rows[0]["revision"] == "blue" and isinstance(rows[0]["status"], int)


def test_invalid_config_rejected():
    with pytest.raises(ValueError):
        RefConfig(duration=1.0, rps=1.0, targets=_blue(), routing="least_outstanding_requests")
    with pytest.raises(ValueError):
        RefConfig(duration=1.0, rps=1.0, targets=[{"revision": "red"}])
    with pytest.raises(ValueError):
        RefConfig(duration=1.0, rps=1.0, targets=_blue(), weights=[(5.0, 10.0), (1.0, 0.0)])
    with pytest.raises(ValueError):
        RefConfig(duration=1.0, rps=1.0, targets=_blue(), service={"distribution": "weibull"})

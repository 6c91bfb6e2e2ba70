"""Tests of tests/theory.py: the references must themselves be right.

Three layers:
1. the closed forms reproduce ENGINE_NOTES.md section 2.2/2.3 digit for digit;
2. scipy (optional, importorskip) independently recomputes Erlang B and the
   Student-t quantiles;
3. a tiny pure-numpy simulation (Lindley prefix scan, ENGINE_NOTES section 1.3)
   agrees with the M/M/1 formula inside a batch-means confidence interval, which
   validates both the formula and the CI machinery used by the other tests.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# pytest's importlib import mode does not put tests/ on sys.path; do it here so
# the helper modules import the same way under every import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import theory

# ENGINE_NOTES.md section 2.2, copied verbatim as strings so that the comparison
# is "same 6 printed decimals", not a tolerance we chose after the fact.
# Columns: lam, mu, c, rho (3 dp), P(wait), Wq, W, Lq, L, P(Wq > 1/mu).
TABLE_2_2 = [
    (0.5, 1, 1, "0.500", "0.500000", "1.000000", "2.000000", "0.500000", "1.000000", "0.303265"),
    (0.8, 1, 1, "0.800", "0.800000", "4.000000", "5.000000", "3.200000", "4.000000", "0.654985"),
    (0.9, 1, 1, "0.900", "0.900000", "9.000000", "10.000000", "8.100000", "9.000000", "0.814354"),
    (2, 1, 3, "0.667", "0.444444", "0.444444", "1.444444", "0.888889", "2.888889", "0.163502"),
    (8, 1, 10, "0.800", "0.409180", "0.204590", "1.204590", "1.636721", "9.636721", "0.055377"),
    (9, 1, 10, "0.900", "0.668732", "0.668732", "1.668732", "6.018584", "15.018584", "0.246013"),
    (9.5, 1, 10, "0.950", "0.825586", "1.651171", "2.651171", "15.686126", "25.186126", "0.500743"),
    (80, 1, 100, "0.800", "0.019646", "0.000982", "1.000982", "0.078586", "80.078586", None),
    (95, 1, 100, "0.950", "0.506457", "0.101291", "1.101291", "9.622680", "104.622680", "0.003412"),
    (1e3, 125, 10, "0.800", "0.409180", "0.001637", "0.009637", "1.636721", "9.636721", "0.055377"),
]


@pytest.mark.parametrize("row", TABLE_2_2, ids=lambda r: f"lam={r[0]},mu={r[1]},c={r[2]}")
def test_mmc_reproduces_reference_table(row):
    lam, mu, c, rho, p_wait, wq, w, lq, l_sys, p_exceed = row
    r = theory.mmc(lam, mu, c)
    assert f"{r['rho']:.3f}" == rho
    assert f"{r['p_wait']:.6f}" == p_wait
    assert f"{r['wq']:.6f}" == wq
    assert f"{r['w']:.6f}" == w
    assert f"{r['lq']:.6f}" == lq
    assert f"{r['l']:.6f}" == l_sys
    tail = theory.mmc_p_wait_exceeds(lam, mu, c, 1.0 / mu)
    if p_exceed is None:
        # The table prints "approx 4e-11" for this row.
        assert 3.5e-11 < tail < 4.5e-11
    else:
        assert f"{tail:.6f}" == p_exceed
    # P(Wq > 0) must be P(wait): the tail formula and Erlang C are one thing.
    assert theory.mmc_p_wait_exceeds(lam, mu, c, 0.0) == pytest.approx(r["p_wait"], rel=1e-14)


def test_mm1_special_case_formulas():
    # ENGINE_NOTES 2.1: P(wait) = rho, Wq = rho/(mu - lam), L = rho/(1 - rho).
    lam, mu = 0.8, 1.0
    r = theory.mmc(lam, mu, 1)
    assert r["p_wait"] == pytest.approx(0.8, rel=1e-13)
    assert r["wq"] == pytest.approx(0.8 / 0.2, rel=1e-13)
    assert r["l"] == pytest.approx(0.8 / 0.2, rel=1e-13)
    assert theory.mm1_sojourn_quantile(lam, mu, 0.99) == pytest.approx(
        math.log(100) / 0.2, rel=1e-13
    )
    assert theory.mm1_sojourn_quantile(lam, mu, 0.5) == pytest.approx(math.log(2) / 0.2, rel=1e-13)


def test_routing_table_section_2_3():
    lam, mu, c = 1000.0, 125.0, 10  # 8 ms service, rho = 0.8
    shared = theory.mmc(lam, mu, c)
    assert f"{shared['wq'] * 1e3:.3f}" == "1.637"
    assert f"{shared['w'] * 1e3:.2f}" == "9.64"
    assert f"{shared['p_wait']:.3f}" == "0.409"

    rr = theory.ecm1(lam, mu, c)
    assert f"{rr['sigma']:.6f}" == "0.657800"
    assert rr["p_wait"] == rr["sigma"]
    assert f"{rr['wq'] * 1e3:.2f}" == "15.38"
    assert f"{rr['w'] * 1e3:.2f}" == "23.38"
    assert f"{rr['p99'] * 1e3:.2f}" == "107.66"
    assert rr["sojourn_quantile"](0.99) == rr["p99"]

    # Random LB: each target is M/M/1 at lam/c.
    rnd = theory.mmc(lam / c, mu, 1)
    assert f"{rnd['wq'] * 1e3:.1f}" == "32.0"
    assert f"{rnd['w'] * 1e3:.1f}" == "40.0"
    assert f"{rnd['p_wait']:.3f}" == "0.800"
    assert f"{theory.mm1_sojourn_quantile(lam / c, mu, 0.99) * 1e3:.1f}" == "184.2"


def test_ecm1_sigma_solves_its_equation_to_1e12():
    for lam, mu, c in [(1000, 125, 10), (0.5, 1, 2), (9.9, 1, 10), (60, 1, 120), (3, 1, 4)]:
        s = theory.ecm1_sigma(lam, mu, c)
        ell = lam / c
        a_star = (c * ell / (c * ell + mu * (1 - s))) ** c
        assert 0 < s < 1
        assert abs(a_star - s) < 1e-12


def test_section_2_4_single_server_references():
    # Values the numpy scans were compared against in ENGINE_NOTES 2.4.
    assert f"{theory.ecm1(8, 1, 10)['wq']:.4f}" == "1.9223"
    assert theory.md1_wq(0.8, 1.0) == pytest.approx(2.0, rel=1e-13)
    # Lognormal with mean 1 and cv^2 = e - 1 is sigma = 1, mu = -1/2.
    es2 = theory.lognormal_second_moment(-0.5, 1.0)
    assert theory.lognormal_mean(-0.5, 1.0) == pytest.approx(1.0, rel=1e-14)
    assert f"{theory.mg1_wq(0.8, 1.0, es2):.4f}" == "5.4366"


def test_pollaczek_khinchine_reduces_to_mm1_and_md1():
    lam, mu = 0.7, 1.3
    assert theory.mg1_wq(lam, 1 / mu, 2 / mu**2) == pytest.approx(
        theory.mmc(lam, mu, 1)["wq"], rel=1e-13
    )
    assert theory.mg1_wq(lam, 1 / mu, 1 / mu**2) == pytest.approx(theory.md1_wq(lam, mu), rel=1e-13)


def test_lognormal_params_round_trip():
    mu, sigma = theory.lognormal_params(0.040, 0.150)
    assert math.exp(mu) == pytest.approx(0.040, rel=1e-14)
    assert math.exp(mu + theory.Z_099 * sigma) == pytest.approx(0.150, rel=1e-14)
    assert sigma == pytest.approx(math.log(3.75) / 2.3263478740408408, rel=1e-15)
    # Mean of the benchmark's service time: about 47 ms, above the 40 ms median.
    assert theory.lognormal_mean(mu, sigma) == pytest.approx(
        0.040 * math.exp(sigma**2 / 2), rel=1e-14
    )
    assert 0.046 < theory.lognormal_mean(mu, sigma) < 0.048
    with pytest.raises(ValueError):
        theory.lognormal_params(0.1, 0.05)


def test_invalid_parameters_raise():
    with pytest.raises(ValueError):
        theory.mmc(1.0, 1.0, 1)  # rho = 1
    with pytest.raises(ValueError):
        theory.erlang_c(3, 3.0)
    with pytest.raises(ValueError):
        theory.ecm1_sigma(10.0, 1.0, 10)
    with pytest.raises(ValueError):
        theory.mg1_wq(1.0, 1.0, 2.0)
    with pytest.raises(ValueError):
        theory.mmc_p_wait_exceeds(0.5, 1.0, 1, -1.0)


@settings(max_examples=60, deadline=None)
@given(rho=st.floats(0.05, 0.97), mu=st.floats(0.01, 1000.0))
def test_ecm1_with_one_target_is_mm1(rho, mu):
    # Erlang-1 gaps are exponential, so E_1/M/1 is M/M/1 and sigma must be rho.
    lam = rho * mu
    r = theory.ecm1(lam, mu, 1)
    assert r["sigma"] == pytest.approx(rho, abs=1e-11)
    assert r["wq"] == pytest.approx(theory.mmc(lam, mu, 1)["wq"], rel=1e-8)


@settings(max_examples=40, deadline=None)
@given(rho=st.floats(0.05, 0.95), c=st.integers(1, 40))
def test_round_robin_beats_random_but_not_a_shared_queue(rho, c):
    # More regular arrivals (larger Erlang shape) can only reduce waiting, and a
    # shared queue (M/M/c) always beats c separate queues.
    mu = 1.0
    lam = rho * c * mu
    rr = theory.ecm1(lam, mu, c)
    rr_more = theory.ecm1(rho * (c + 1), mu, c + 1)
    assert rr_more["sigma"] <= rr["sigma"] + 1e-12
    assert rr["sigma"] <= rho + 1e-12
    assert theory.mmc(lam, mu, c)["wq"] <= rr["wq"] + 1e-12


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 300), a=st.floats(0.0, 400.0))
def test_erlang_b_matches_direct_sum(c, a):
    # Direct evaluation in log space (no overflow) against the recursion.
    logs = [
        k * math.log(a) - math.lgamma(k + 1) if a > 0 else (0.0 if k == 0 else -math.inf)
        for k in range(c + 1)
    ]
    m = max(logs)
    direct = math.exp(logs[-1] - m) / sum(math.exp(x - m) for x in logs)
    assert theory.erlang_b(c, a) == pytest.approx(direct, rel=1e-9, abs=1e-300)


def test_erlang_b_against_scipy_poisson():
    stats = pytest.importorskip("scipy.stats")
    for c in [1, 2, 3, 5, 10, 25, 50, 100, 200]:
        for a in [0.1, 0.5, 1.0, 2.0, 5.0, 8.0, 9.5, 30.0, 80.0, 95.0, 150.0]:
            ref = stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a)
            assert theory.erlang_b(c, a) == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_t_quantile_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in [1, 2, 3, 4, 7, 19, 29, 30, 60, 99, 100, 299, 300, 500, 10**6]:
        for level in [0.8, 0.9, 0.95, 0.99, 0.999]:
            ref = stats.t.ppf(0.5 + level / 2, df)
            assert theory.t_quantile(level, df) == pytest.approx(ref, rel=1e-9)


def test_t_quantile_known_values_without_scipy():
    # Textbook table values, so the CI code is checked even where scipy is absent.
    assert theory.t_quantile(0.95, 19) == pytest.approx(2.093024, abs=1e-6)
    assert theory.t_quantile(0.95, 1) == pytest.approx(12.706205, abs=1e-6)
    assert theory.t_quantile(0.99, 10) == pytest.approx(3.169273, abs=1e-6)
    assert theory.t_quantile(0.95, 10**9) == pytest.approx(1.959964, abs=1e-6)
    assert theory.normal_quantile(0.99) == pytest.approx(theory.Z_099, abs=1e-14)


def test_mean_ci_has_nominal_coverage():
    # 4000 intervals from n = 8 normal samples: coverage should be 0.95 +/- 0.01
    # (binomial sd 0.0034). A z-interval here would cover only about 0.89.
    rng = np.random.default_rng(20240611)
    data = rng.normal(3.0, 2.0, size=(4000, 8))
    covered = sum(theory.mean_ci(row).contains(3.0) for row in data)
    assert 0.94 <= covered / 4000 <= 0.96


def test_batch_means_ci_uses_batches_after_warmup():
    x = np.concatenate([np.full(100, 1000.0), np.arange(900, dtype=float)])
    ci = theory.batch_means_ci(x, batches=9, warmup=0.1)
    assert ci.n == 9
    assert ci.mean == pytest.approx(449.5)  # the warm-up block of 1000s is gone
    with pytest.raises(ValueError):
        theory.batch_means_ci(np.arange(10.0), batches=20)


# --------------------------------------------------------------------------- #
# Validation by a tiny simulation: the Lindley prefix scan (ENGINE_NOTES 1.3)
# --------------------------------------------------------------------------- #
def _lindley_waits(arrivals: np.ndarray, services: np.ndarray) -> np.ndarray:
    """FIFO single-server waits W_n = max(0, W_{n-1} + S_{n-1} - (A_n - A_{n-1})).

    With X_n = S_{n-1} - (A_n - A_{n-1}) and U = cumsum(X) (U_0 = 0), the
    recursion unrolls to W = U - minimum.accumulate(U): no Python loop.
    """
    x = np.empty_like(arrivals)
    x[0] = 0.0
    x[1:] = services[:-1] - np.diff(arrivals)
    u = np.cumsum(x)
    return u - np.minimum.accumulate(u)


def _loop_waits(arrivals: np.ndarray, services: np.ndarray) -> np.ndarray:
    """The obvious Python loop, as ground truth for the scan."""
    waits = np.empty_like(arrivals)
    free_at = -math.inf
    for i, (a, s) in enumerate(zip(arrivals, services, strict=True)):
        start = max(a, free_at)
        waits[i] = start - a
        free_at = start + s
    return waits


def test_lindley_scan_equals_python_loop():
    rng = np.random.default_rng(7)
    a = np.cumsum(rng.exponential(1 / 0.9, 20_000))
    s = rng.exponential(1.0, 20_000)
    np.testing.assert_allclose(_lindley_waits(a, s), _loop_waits(a, s), rtol=0, atol=1e-8)


def test_lindley_mm1_rho08_agrees_with_wq_4():
    rng = np.random.default_rng(12345)
    n = 200_000
    arrivals = np.cumsum(rng.exponential(1 / 0.8, n))
    services = rng.exponential(1.0, n)
    waits = _lindley_waits(arrivals, services)
    ci = theory.batch_means_ci(waits, batches=20, warmup=0.1)
    wq = theory.mmc(0.8, 1.0, 1)["wq"]
    assert ci.contains(wq), ci
    # The interval must also be narrow enough to mean something: it has to
    # exclude M/M/1 at rho = 0.82 (Wq = 4.56), a 2.5 % error in the load.
    assert not ci.contains(theory.mmc(0.82, 1.0, 1)["wq"]), ci
    # P(wait) = rho; the i.i.d. indicator CI is too narrow, so use batches too.
    assert theory.batch_means_ci(waits > 0).contains(0.8)

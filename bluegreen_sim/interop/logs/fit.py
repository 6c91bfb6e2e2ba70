"""What the logs say about the workload: each derivation returns its value and its evidence.

Every function here is pure: summaries in (from :mod:`.accesslog` or :mod:`.cloudwatch_export`),
numbers and small tables out. The sampling theory behind each stated tolerance is in the
docstrings, so a reader can tell a real difference from noise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...scenario import Z99

TRACE_BINS = (1, 5, 10, 30, 60, 300)  # seconds a trace row may cover
DAY = 86400.0


# --------------------------------------------------------------------------------------------
# Arrivals


def rate_trace(
    per_second: pd.Series, min_count: int = 100, max_rows: int = 100_000
) -> tuple[pd.DataFrame, int]:
    """The request rate over time as ``(time_s, rps)`` rows, and the width of a row in seconds.

    A row is as narrow as the data allows: the smallest width whose mean count is at least
    ``min_count`` (a row's rate then has a relative Poisson error of at most 1/sqrt(100) = 10 %),
    at most 5 minutes unless the span needs wider rows to stay under ``max_rows``. The simulator
    draws Poisson arrivals around each row's rate, so a trace made of noisier rows would add the
    sampling noise of the log on top of its own. Seconds without entries count as zero.
    """
    start, end = int(per_second.index.min()), int(per_second.index.max()) + 1
    span = end - start
    mean = float(per_second.sum()) / span
    width = next((w for w in TRACE_BINS if mean * w >= min_count), TRACE_BINS[-1])
    width = min(width, span)
    if span > max_rows * 300:  # a span of months: rows of whole multiples of 5 minutes
        width = math.ceil(span / max_rows / 300) * 300
    nbins = math.ceil(span / width)
    row = (per_second.index.to_numpy() - start) // width
    counts = np.bincount(row, weights=per_second.to_numpy(), minlength=nbins)[:nbins]
    # the last row may cover less than a full width
    covered = np.full(nbins, float(width))
    covered[-1] = span - (nbins - 1) * width
    trace = pd.DataFrame({"time_s": np.arange(nbins) * width, "rps": counts / covered})
    return trace, width


def fit_diurnal(per_second: pd.Series, start: float) -> dict[str, Any] | None:
    """A ``diurnal`` load (rps, amplitude, phase, period = 1 day) fitted by least squares to the
    hourly rates, when the data spans at least a day; None otherwise.

    The scenario's diurnal rate is ``rps * (1 + amplitude * sin(2 pi (t - phase) / period))``
    with ``t`` from the start of the log; ``r2`` says how much of the hourly variation the
    sinusoid explains.
    """
    span = float(per_second.index.max() + 1 - per_second.index.min())
    if span < DAY:
        return None
    sec = per_second.index.to_numpy()
    hour = (sec - int(start)) // 3600
    counts = pd.Series(per_second.to_numpy(), index=hour).groupby(level=0).sum()
    hours = np.arange(int(hour.max()) + 1)
    rates = counts.reindex(hours, fill_value=0).to_numpy() / 3600.0
    t = hours * 3600.0 + 1800.0
    w = 2 * np.pi / DAY
    design = np.column_stack([np.ones_like(t), np.sin(w * t), np.cos(w * t)])
    (a, b, c), *_ = np.linalg.lstsq(design, rates, rcond=None)
    fitted = design @ np.array([a, b, c])
    ss_res = float(((rates - fitted) ** 2).sum())
    ss_tot = float(((rates - rates.mean()) ** 2).sum()) or 1e-12
    amp = math.hypot(b, c) / a if a > 0 else 0.0
    # b sin(wt) + c cos(wt) = R sin(wt + phi), and sin(w (t - phase)) needs phase = -phi / w
    phase = (-math.atan2(c, b) / w) % DAY
    return {
        "rps": round(float(a), 4),
        "amplitude": round(min(amp, 1.0), 4),
        "phase": round(phase, 1),
        "period": DAY,
        "r2": round(1 - ss_res / ss_tot, 4),
        "hours": len(hours),
    }


def dispersion(per_second: pd.Series) -> dict[str, Any]:
    """Index of dispersion of the per-second counts within each full minute.

    For Poisson arrivals the counts of the 60 seconds of a minute have variance = mean, so
    D = s^2 / mean is about 1, with standard error sqrt(2 / 59) per minute; the mean of D over
    M minutes has standard error sqrt(2 / (59 M)). Comparing seconds within a minute leaves
    out slow changes of the rate. D well above 1 means bursts (the simulator's Poisson arrivals
    understate queueing); well below 1 means arrivals more regular than Poisson
    (``arrivals: uniform`` is closer).
    """
    start, end = int(per_second.index.min()), int(per_second.index.max()) + 1
    first = -(-start // 60) * 60
    last = end // 60 * 60
    if last - first < 60:
        return {"minutes": 0, "index": None, "z": None, "verdict": "too short (< 1 full minute)"}
    sec = per_second.index.to_numpy()
    inside = (sec >= first) & (sec < last)
    # per minute, from the seconds that have entries (the others add 0 to both sums)
    minute = (sec[inside] - first) // 60
    x = per_second.to_numpy()[inside].astype(float)
    sums = pd.Series(x).groupby(minute).sum().to_numpy()
    squares = pd.Series(x * x).groupby(minute).sum().to_numpy()
    means = sums / 60
    d = (squares - sums * sums / 60) / 59 / means
    m = len(d)
    if m == 0:
        return {"minutes": 0, "index": None, "z": None, "verdict": "no traffic"}
    se = math.sqrt(2 / (59 * m))
    dbar = float(d.mean())
    z = (dbar - 1) / se
    if abs(z) < 3:
        verdict = "consistent with Poisson arrivals"
    elif dbar > 1:
        verdict = "burstier than Poisson (queueing in the model will be too optimistic)"
    else:
        verdict = "more regular than Poisson (consider arrivals: uniform)"
    return {
        "minutes": m,
        "index": round(dbar, 4),
        "se": round(se, 4),
        "z": round(z, 2),
        "verdict": verdict,
    }


def longest_gap(per_second: pd.Series) -> tuple[float, float]:
    """(start, length) in seconds of the longest stretch without an entry: missing log files
    or a quiet service, which the trace cannot tell apart (it holds zero there)."""
    sec = np.sort(per_second.index.to_numpy())
    if len(sec) < 2:
        return float(sec[0]) if len(sec) else 0.0, 0.0
    gaps = np.diff(sec) - 1
    i = int(np.argmax(gaps))
    return float(sec[i] + 1), float(gaps[i])


def client_population(clients: pd.Series) -> dict[str, Any]:
    """Distinct client IPs and requests per client (the port is left out: one client opens
    many connections). A proxy or NAT in front of the load balancer shows as one client."""
    if len(clients) == 0:
        return {"clients": 0}
    per = clients.to_numpy()
    top = max(1, len(per) // 100)
    return {
        "clients": len(per),
        "requests_per_client_mean": round(float(per.mean()), 2),
        "requests_per_client_median": float(np.median(per)),
        "requests_per_client_p90": round(float(np.quantile(per, 0.9)), 2),
        "requests_per_client_max": int(per.max()),
        "top_1pct_share": round(float(np.sort(per)[::-1][:top].sum() / per.sum()), 4),
    }


# --------------------------------------------------------------------------------------------
# Service time


def _prepare(sample: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Positive service times; times logged to the millisecond are spread uniformly within
    their millisecond, so ties do not dominate the KS distance."""
    x = np.asarray(sample, dtype=float)
    x = x[x >= 0]
    rounded = len(x) > 0 and bool(np.all(np.abs(x * 1000 - np.round(x * 1000)) < 1e-6))
    if rounded:
        x = x + (rng.random(len(x)) - 0.5) * 1e-3
    return np.maximum(x, 1e-4), rounded


def fit_service_time(sample: np.ndarray, seed: int = 0, max_fit: int = 20_000) -> dict[str, Any]:
    """Lognormal, gamma and Weibull fits (maximum likelihood, location 0) of the target times.

    Each fit has its Kolmogorov-Smirnov distance D (the largest gap between the fitted and the
    observed distribution functions) and the p-value; the best is the smallest D. With n
    values, D of the true model is about 0.87 / sqrt(n) (the median of the KS distribution),
    so a fit whose D is several times that is visibly wrong.
    """
    from scipy import stats  # here, not at import: `import bluegreen_sim` stays quick

    rng = np.random.default_rng(seed)
    x, rounded = _prepare(sample, rng)
    if len(x) < 20:
        return {"n": len(x), "fits": {}, "best": None, "rounded_to_ms": rounded}
    fit_x = x if len(x) <= max_fit else rng.choice(x, max_fit, replace=False)
    fits: dict[str, dict[str, Any]] = {}
    families = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}
    for name, dist in families.items():
        try:
            with np.errstate(all="ignore"):
                params = dist.fit(fit_x, floc=0)
                ks = stats.kstest(fit_x, dist.cdf, args=params)
        except (ValueError, RuntimeError, FloatingPointError):
            continue  # a family that cannot describe these values (e.g. all equal)
        if not all(math.isfinite(p) for p in params) or not math.isfinite(ks.statistic):
            continue
        entry = {"D": round(float(ks.statistic), 5), "p_value": float(ks.pvalue)}
        if name == "lognormal":
            sigma, _, scale = params
            entry.update(
                median_s=float(scale),
                sigma=float(sigma),
                p99_s=float(scale * math.exp(Z99 * sigma)),
            )
        elif name == "gamma":
            entry.update(shape=float(params[0]), scale_s=float(params[2]))
        else:
            entry.update(shape=float(params[0]), scale_s=float(params[2]))
        entry["mean_s"] = float(dist.mean(*params))
        fits[name] = entry
    best = min(fits, key=lambda k: fits[k]["D"]) if fits else None
    return {
        "n": len(x),
        "n_fitted": len(fit_x),
        "D_expected": round(0.87 / math.sqrt(len(fit_x)), 5),
        "fits": fits,
        "best": best,
        "rounded_to_ms": rounded,
    }


def empirical_quantiles(sample: np.ndarray, n: int = 2000) -> np.ndarray:
    """``n`` evenly spaced quantiles (mid-points) of the sample, in milliseconds: a compact
    empirical distribution the scenario samples with replacement."""
    x = np.sort(np.asarray(sample, dtype=float))
    x = x[x >= 0]
    q = (np.arange(n) + 0.5) / n
    return np.quantile(x, q) * 1000.0


def quantile_interval(sample: np.ndarray, q: float, z: float = 1.96) -> tuple[float, float, float]:
    """(estimate, low, high) of a quantile from a random sample: the order-statistic interval,
    which needs no model (ranks n q -+ z sqrt(n q (1 - q)))."""
    x = np.sort(np.asarray(sample, dtype=float))
    n = len(x)
    if n == 0:
        return (float("nan"),) * 3
    half = z * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half)))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return float(np.quantile(x, q)), float(x[lo]), float(x[hi])


def erlang_c(servers: int, load: float) -> float:
    """Probability that a request waits in an M/M/c queue with offered load ``load`` (Erlang)."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    term *= load / servers
    last = term * servers / (servers - load)
    return last / (total + last)


def concurrency_for(load_per_task: float, max_wait_probability: float = 0.01) -> int:
    """The smallest concurrency per task at which the model's queue adds a wait to at most
    ``max_wait_probability`` of requests (Erlang C, an M/M/c approximation)."""
    c = 1
    while erlang_c(c, load_per_task) > max_wait_probability and c < 10_000:
        c += 1
    return c


# --------------------------------------------------------------------------------------------
# Errors and targets


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """A proportion and its Wilson score interval."""
    if n == 0:
        return (float("nan"),) * 3
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def targets_seen(targets: pd.DataFrame, per_minute: pd.DataFrame, group: str) -> dict[str, Any]:
    """How many targets of a group served at once: distinct targets per window, median over
    windows. The window is the shortest of 1, 5, 15, 60 minutes in which a target serves 30
    requests on average, so a lightly loaded target is not missed for being idle."""
    rows = targets[targets["group"] == group]
    if rows.empty:
        return {"targets": None, "distinct": 0}
    distinct = rows["target"].nunique()
    reqs = per_minute[per_minute["group"] == group]
    per_target_minute = reqs["requests"].sum() / max(1, len(reqs)) / max(1, distinct)
    window = next((w for w in (1, 5, 15, 60) if per_target_minute * w >= 30), 60)
    bucket = rows["minute"] // (60 * window)
    per_window = rows.assign(b=bucket).groupby("b")["target"].nunique()
    return {
        "targets": int(round(float(per_window.median()))),
        "distinct": int(distinct),
        "window_minutes": window,
        "min": int(per_window.min()),
        "max": int(per_window.max()),
    }

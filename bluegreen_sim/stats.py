"""Confidence intervals for the comparison and sweep tables, without SciPy.

The Student-t quantile is exact for whole degrees of freedom (bisection on the closed-form
CDF, Abramowitz & Stegun 26.7.3/4); the Wilson score interval is the one to use for a
proportion near 0 or 1 (k/n ± z·se is not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

CONFIDENCE = 0.95


def mean_interval(
    values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[int, float, float, float]:
    """(n, mean, low, high): the mean and its Student-t interval; missing values left out.

    With one value the bounds are NaN; with none, everything but ``n`` is.
    """
    x = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
    n = len(x)
    if n == 0:
        return (0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return (1, mean, math.nan, math.nan)
    half = t_quantile(0.5 + confidence / 2, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return (n, mean, mean - half, mean + half)


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k/n``; NaNs when ``n == 0``."""
    if n <= 0:
        return (math.nan, math.nan)
    z = normal_quantile(0.5 + confidence / 2)
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at k = 0 and k = n the bounds are exactly 0 and 1 (rounding would leave ~1e-17)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)


@lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` (whole) degrees of freedom."""
    if not 0 < q < 1 or df < 1:
        raise ValueError("t_quantile needs 0 < q < 1 and df >= 1")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_quantile(1 - q, df)
    target = 2 * q - 1  # P(|T| <= t)
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < target:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_central(mid, df) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with whole ``df`` (A&S 26.7.3 and 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    c2 = c * c
    if df % 2 == 1:
        total, term = 0.0, c
        for k in range(1, (df - 1) // 2 + 1):
            if k > 1:
                term *= c2 * (2 * k - 2) / (2 * k - 1)
            total += term
        return (2 / math.pi) * (theta + (s * total if df > 1 else 0.0))
    total, term = 1.0, 1.0
    for k in range(1, (df - 2) // 2 + 1):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return s * total


@lru_cache(maxsize=64)
def normal_quantile(q: float) -> float:
    """The ``q`` quantile of the standard normal (bisection on erf)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2

"""Confidence intervals for the comparison, sweep and advice tables.

Quantiles come from SciPy (``scipy.stats``); the Wilson score interval is the one to use for a
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
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0 < q < 1 or df < 1:
        raise ValueError("t_quantile needs 0 < q < 1 and df >= 1")
    from scipy import stats  # imported on first use: SciPy costs ~50 MB and ~0.3 s to import

    return float(stats.t.ppf(q, df))


@lru_cache(maxsize=64)
def normal_quantile(q: float) -> float:
    """The ``q`` quantile of the standard normal."""
    from scipy import stats

    return float(stats.norm.ppf(q))

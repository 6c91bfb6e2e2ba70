"""Random durations for the data plane: one small contract (``sample``, ``mean``) for all.

Samplers turn *base variates* into durations: a lognormal uses standard normals, the others use
uniforms. The data plane draws the base variates once per request from the service stream, in
arrival order, whatever the revision; so two variants run with the same seed see the same draws
(common random numbers) even when a request lands on another revision.
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario import Z99, Distribution, Scenario, read_empirical


class Sampler:
    """Samples one :class:`~bluegreen_sim.scenario.Distribution`, in seconds."""

    def __init__(self, dist: Distribution, scenario: Scenario | None = None):
        self.kind = dist.distribution
        self.dist = dist
        self.needs = "normal" if self.kind == "lognormal" else "uniform"
        if self.kind == "lognormal":
            self._mu = math.log(dist.median)
            self._sigma = math.log(dist.p99 / dist.median) / Z99
        if self.kind == "empirical":
            values = read_empirical(scenario, dist) if scenario is not None else []
            self._values = np.sort(np.asarray(values, dtype=float))
        self.mean = float(self._values.mean()) if self.kind == "empirical" else dist.mean_seconds()

    def from_base(self, base: np.ndarray) -> np.ndarray:
        """Durations from base variates (normals for lognormal, uniforms in [0, 1) otherwise)."""
        d = self.dist
        if self.kind == "lognormal":
            return np.exp(self._mu + self._sigma * base)
        if self.kind == "exponential":
            return -d.mean * np.log1p(-base)
        if self.kind == "constant":
            return np.full(base.shape, d.value)
        if self.kind == "uniform":
            return d.low + (d.high - d.low) * base
        idx = np.minimum((base * len(self._values)).astype(np.int64), len(self._values) - 1)
        return self._values[idx]

    def sample(self, rng: np.random.Generator, n: int | None = None) -> np.ndarray | float:
        """Draw ``n`` durations (or one, as a float, when ``n`` is None)."""
        size = 1 if n is None else n
        base = rng.standard_normal(size) if self.needs == "normal" else rng.random(size)
        out = self.from_base(base)
        return float(out[0]) if n is None else out

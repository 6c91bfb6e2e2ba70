"""Request arrivals: a rate pattern over time, drawn in vectorised batches per window.

Poisson arrivals are exact for every pattern: piecewise-constant patterns (constant, step, trace)
are drawn piece by piece; smooth ones (ramp, diurnal) by thinning against the window's maximum
rate. ``uniform`` arrivals are evenly spaced in the cumulative intensity, carried across windows.
No Python object is made per request.
"""

from __future__ import annotations

import numpy as np

from ..scenario import LoadSpec, Scenario, read_trace


class ArrivalProcess:
    """The production load of a scenario."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        self.spec: LoadSpec = scenario.load
        self.rng = rng
        self.duration = scenario.duration
        spec = self.spec
        if spec.pattern == "constant":
            self._breaks = np.array([0.0])
            self._rates = np.array([spec.rps])
        elif spec.pattern == "step":
            steps = sorted((s.at, s.rps) for s in spec.steps)
            self._breaks = np.array([0.0] + [t for t, _ in steps if t > 0])
            first = spec.rps if steps[0][0] > 0 else steps[0][1]
            self._rates = np.array([first] + [r for t, r in steps if t > 0])
        elif spec.pattern == "trace":
            rows = read_trace(scenario)
            times = [t for t, _ in rows]
            rates = [r for _, r in rows]
            if times[0] > 0:
                times, rates = [0.0] + times, [rates[0]] + rates
            self._breaks = np.array(times)
            self._rates = np.array(rates)
        else:
            self._breaks = None
        self._uniform_cum = 0.0  # cumulative intensity since the start (uniform arrivals)
        self._uniform_emitted = 0  # uniform arrivals emitted so far

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        """The mean request rate (requests/s) at time(s) ``t``."""
        t = np.asarray(t, dtype=float)
        spec = self.spec
        if self._breaks is not None:
            idx = np.searchsorted(self._breaks, t, side="right") - 1
            return self._rates[np.clip(idx, 0, len(self._rates) - 1)]
        if spec.pattern == "ramp":
            end = spec.ramp_end if spec.ramp_end is not None else self.duration
            span = max(end - spec.ramp_start, 1e-9)
            frac = np.clip((t - spec.ramp_start) / span, 0.0, 1.0)
            return spec.rps + (spec.ramp_to - spec.rps) * frac
        # diurnal: a sinusoid around the mean rate
        phase = 2 * np.pi * (t - spec.phase) / spec.period
        return spec.rps * (1.0 + spec.amplitude * np.sin(phase))

    def _max_rate(self, t0: float, t1: float) -> float:
        grid = np.linspace(t0, t1, 9)
        # ramps and sinusoids are monotone or smooth on a window: a fine grid plus slack bounds it
        return float(self.rate(grid).max()) * 1.001 + 1e-12

    def arrivals(self, t0: float, t1: float) -> np.ndarray:
        """Sorted arrival times in [t0, t1)."""
        if self.spec.arrivals == "uniform":
            return self._uniform(t0, t1)
        rng = self.rng
        if len(self._breaks if self._breaks is not None else ()) == 1:
            # constant rate: one Poisson count, uniform times (the common case, kept lean)
            n = rng.poisson(self._rates[0] * (t1 - t0))
            out = t0 + (t1 - t0) * rng.random(n)
        elif self._breaks is not None:
            pieces = []
            cuts = self._breaks[(self._breaks > t0) & (self._breaks < t1)]
            edges = np.concatenate(([t0], cuts, [t1]))
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                lam = float(self.rate(a))
                n = rng.poisson(lam * (b - a)) if lam > 0 else 0
                if n:
                    pieces.append(a + (b - a) * rng.random(n))
            out = np.concatenate(pieces) if pieces else np.empty(0)
        else:
            lam_max = self._max_rate(t0, t1)
            n = rng.poisson(lam_max * (t1 - t0))
            times = t0 + (t1 - t0) * rng.random(n)
            keep = rng.random(n) * lam_max < self.rate(times)
            out = times[keep]
        out.sort()
        return out

    def _uniform(self, t0: float, t1: float) -> np.ndarray:
        # Arrival k comes when the cumulative intensity since the start reaches k; an arrival
        # that falls exactly on t1 belongs to the next window.
        grid = np.linspace(t0, t1, 65)
        mid = (grid[:-1] + grid[1:]) / 2
        cum = self._uniform_cum + np.concatenate(([0.0], np.cumsum(self.rate(mid) * np.diff(grid))))
        ks = np.arange(self._uniform_emitted + 1, np.floor(cum[-1] + 1e-9) + 1)
        times = np.interp(ks, cum, grid) if ks.size else np.empty(0)
        times = times[times < t1]
        self._uniform_emitted += len(times)
        self._uniform_cum = cum[-1]
        return times

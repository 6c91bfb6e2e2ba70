"""CloudWatch alarms as SimPy processes: each wakes every minute and evaluates its datapoints.

Every minute (every 10 s for periods under a minute) an alarm gathers its evaluation range of
datapoints from the :class:`~.metrics.MetricStore` and applies
:func:`~bluegreen_sim.aws.cloudwatch.evaluate_alarm`; its state changes are logged as events.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..scenario import AlarmSpec
from .cloudwatch import evaluate_alarm, evaluation_range
from .metrics import BLUE_TG, GREEN_TG, LB, RES

if TYPE_CHECKING:
    from ..engine.simulation import World


class Alarm:
    """A CloudWatch metric alarm: its state, and the history of its transitions."""

    def __init__(self, world: World, spec: AlarmSpec):
        self.world = world
        self.spec = spec
        self.state = "INSUFFICIENT_DATA"
        self.history: list[dict] = []
        self.cadence = 60.0 if spec.period >= 60 else 10.0

    def values(self, now: float) -> list[float | None]:
        """The datapoints of the evaluation range that ends at ``now``, oldest first."""
        s = self.spec
        n = evaluation_range(s.evaluation_periods)
        # What CloudWatch has received by now: the load balancer sends 60-second aggregates
        # (10-second ones for high-resolution periods here), each publish_delay after its
        # interval ends. A period past that is partial, or missing if none of it arrived.
        grain = 60.0 if s.period >= 60 else RES
        delay = self.world.scenario.cloudwatch.publish_delay
        seen = grain * math.floor((now - delay) / grain + 1e-9)
        values = []
        for k in range(n, 0, -1):
            start, end = now - k * s.period, min(now - (k - 1) * s.period, seen)
            values.append(self._value(start, end) if end > start else None)
        return values

    def _value(self, start: float, end: float) -> float | None:
        s = self.spec
        store = self.world.metrics
        if s.expression is None:
            dim = _dimension(s.target_group)
            stat = s.statistic or s.extended_statistic
            return store.datapoint(s.metric, dim, stat, start, end)
        factor, a, b = s.ratio
        va = self._ref(a, start, end)
        vb = self._ref(b, start, end)
        # Metric math yields no datapoint where an input has none (or would divide by zero).
        if va is None or vb is None or vb == 0:
            return None
        return factor * va / vb

    def _ref(self, ident: str, start: float, end: float) -> float | None:
        ref = self.spec.metrics[ident]
        return self.world.metrics.datapoint(
            ref.metric, _dimension(ref.target_group), ref.statistic, start, end
        )

    def evaluate(self, now: float) -> str:
        s = self.spec
        m, n = s.m_of_n
        values = self.values(now)
        new = evaluate_alarm(
            values,
            threshold=s.threshold,
            comparison=s.comparison,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            treat_missing_data=s.treat_missing_data,
            previous_state=self.state,
        )
        if new != self.state:
            old, self.state = self.state, new
            shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
            self.history.append(
                {
                    "time_s": now,
                    "alarm": s.name,
                    "old_state": old,
                    "new_state": new,
                    "datapoints": shown,
                }
            )
            self.world.log(
                "cloudwatch",
                f"alarm {new}",
                f"{s.name}: {old} → {new}; datapoints [{shown}] vs {s.comparison} {s.threshold:g}",
            )
            for callback in list(self.world.alarm_listeners):
                callback(self, old, new)
        return new

    def run(self):
        """Wake every minute (10 s for short periods) and evaluate."""
        env = self.world.env
        yield env.timeout(self.cadence)
        while True:
            self.world.dataplane.finalize(env.now)
            self.evaluate(env.now)
            yield env.timeout(self.cadence)


def _dimension(target_group: str | None) -> int:
    return {None: LB, "blue": BLUE_TG, "green": GREEN_TG}[target_group]

"""The analytic path of :func:`~bluegreen_sim.analysis.advise.advise`: a candidate's one error-count
alarm in closed form (:mod:`.detection`), run on the traffic schedules of pilot runs and mixed over
them (their Install times differ).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..scenario import Scenario
from .candidates import HEALTHY
from .detection import CountAlarm, NotAnalytic, Traffic, detection
from .replications import _row


def _analytic_alarm(scenario: Scenario) -> CountAlarm:
    """The candidate's one alarm in closed form, or NotAnalytic saying why not."""
    dep = scenario.deployment
    if dep.controller != "codedeploy":
        raise NotAnalytic(f"controller {dep.controller}: only CodeDeploy's polling is modelled")
    if len(dep.alarms) != 1:
        raise NotAnalytic(f"{len(dep.alarms)} deployment alarms: the analysis takes exactly one")
    if scenario.load.pattern != "constant" or scenario.load.arrivals != "poisson":
        raise NotAnalytic("the load is not constant Poisson")
    if any(h.kind == "probe" for h in dep.hooks.values()):
        raise NotAnalytic("test-traffic probes add green requests the analysis does not model")
    spec = next(a for a in scenario.alarms if a.name == dep.alarms[0])
    return CountAlarm.from_spec(spec)


def _without_alarms(scenario: Scenario) -> Scenario:
    dep = scenario.deployment.model_copy(update={"alarms": []})
    return scenario.model_copy(update={"deployment": dep})


def _schedule(pilot_timeline: pd.DataFrame) -> list[tuple[float, float]]:
    """(time, green weight %) change points of a pilot run's timeline."""
    t = pilot_timeline["time_s"].to_numpy(float)
    w = np.nan_to_num(pilot_timeline["green_weight"].to_numpy(float))
    keep = np.r_[True, w[1:] != w[:-1]]
    return list(zip(t[keep], w[keep], strict=True))


def _traffic(alarm: CountAlarm, schedule, rate: float, e_green: float, e_blue: float) -> Traffic:
    times, errors, requests = [], [], []
    for t, weight in schedule:
        w = weight / 100.0
        g, b = rate * w, rate * (1 - w)
        if alarm.dimension == "green":
            err, req = g * e_green, g
        elif alarm.dimension == "blue":
            err, req = b * e_blue, b
        else:
            err, req = g * e_green + b * e_blue, rate
        times.append(float(t))
        errors.append(err)
        requests.append(req)
    return Traffic(tuple(times), tuple(errors), tuple(requests))


def _analytic_cells(
    scenario: Scenario, alarm: CountAlarm, pilots: list[tuple[dict, list]], cases: dict[str, float]
) -> list[dict[str, Any]]:
    """Exact measures per case (``healthy`` or an error regression) mixed over the pilots."""
    rate = scenario.load.rps
    e_blue = scenario.revision("blue").error_rate
    rows = []
    for case, e_green in cases.items():
        dets, t0s, cums = [], [], []
        for summary, schedule in pilots:
            end = summary["deployment_end_s"] or scenario.duration
            det = detection(
                alarm,
                _traffic(alarm, schedule, rate, e_green, e_blue),
                horizon=scenario.duration,
                polls_from=summary["deployment_start_s"],
                polls_until=end - 1e-6,  # blue removal stops the polling before its poll
                poll_interval=scenario.deployment.alarm_poll_interval,
                publish_delay=scenario.cloudwatch.publish_delay,
            )
            green_only = _traffic(
                CountAlarm(threshold=0, dimension="green"), schedule, rate, e_green, e_blue
            )
            dets.append(det)
            t0s.append(summary["production_traffic_s"] or 0.0)
            cums.append(green_only.cumulative)
        p = float(np.mean([d.probability for d in dets]))
        lo = float(np.mean([d.lower[-1] if len(d.times) else 0.0 for d in dets]))
        hi = float(np.mean([d.upper[-1] if len(d.times) else 0.0 for d in dets]))
        method = "exact" if all(d.exact for d in dets) else "bounds"
        failed = float(np.mean([d.expected(c) for d, c in zip(dets, cums, strict=True)]))
        times = np.concatenate([d.times - t0 for d, t0 in zip(dets, t0s, strict=True)])
        mass = np.concatenate([d.pmf / len(dets) for d in dets])
        ttd = _weighted_median(times, mass)
        measure = "P(false rollback)" if case == HEALTHY else "P(detect)"
        rows.append(_row(case, measure, p, lo, hi, method, len(dets)))
        if case != HEALTHY:
            rows.append(_row(case, "median time to detect (s)", ttd, ttd, ttd, method, len(dets)))
            rows.append(_row(case, "failed requests", failed, failed, failed, method, len(dets)))
    return rows


def _weighted_median(times: np.ndarray, mass: np.ndarray) -> float:
    total = mass.sum()
    if total <= 0:
        return math.nan
    order = np.argsort(times)
    cum = np.cumsum(mass[order]) / total
    return float(times[order][np.searchsorted(cum, 0.5 - 1e-12)])

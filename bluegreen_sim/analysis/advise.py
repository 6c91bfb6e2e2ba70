"""Advice: how each candidate setup fares against a list of regressions, with intervals.

A *candidate* is a strategy and alarm setting, given as dotted overrides of the scenario
(``{"deployment.config": "CodeDeployDefault.ECSCanary10Percent15Minutes", "alarms.0.threshold":
10}``). A *regression* is what a bad release does: extra errors (``{kind: errors, delta:
0.01}``), slower responses (``{kind: latency, multiply: 1.5}``) or a crash after the full shift
(``{kind: crash}``). :func:`advise` measures, per candidate:

* P(false rollback) of a healthy release (green as good as blue);
* per regression: P(detect) (an alarm stops the deployment), the median time to detect (from
  the first green request), and the expected failed green requests until the end of the run;
* the duration and cost of a healthy deployment that goes through (not rolled back).

Where the candidate's one deployment alarm is an error count with a closed form
(:mod:`.detection`), the controller is CodeDeploy and the load constant, the healthy case and
the error regressions are computed exactly: a few *pilot* runs of the healthy candidate give its
traffic schedule (when green gets which weight, when polls run), and the chain is run on each
pilot's schedule (a mixture over the pilots' Install times). Everything else is simulated with
common random numbers: replication r uses the seed ``seed + r`` in every candidate and
regression; replications are added in batches until each interval is tight (half-width at most
``tolerance``) or clearly on one side of its constraint, up to ``max_reps``; cells still
undecided are listed in :attr:`Advice.notes`.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..engine.simulation import simulate
from ..scenario import Scenario, ScenarioError, apply_overrides, load_scenario, scenario_from_dict
from .detection import CountAlarm, NotAnalytic, Traffic, detection
from .stats import mean_interval, wilson_interval

__all__ = [
    "DEFAULT_REGRESSIONS",
    "Advice",
    "advise",
    "default_candidates",
    "load_candidates",
]

DEFAULT_REGRESSIONS: dict[str, dict[str, Any]] = {
    "errors +0.5%": {"kind": "errors", "delta": 0.005},
    "errors +1%": {"kind": "errors", "delta": 0.01},
    "errors +2%": {"kind": "errors", "delta": 0.02},
    "errors +5%": {"kind": "errors", "delta": 0.05},
    "latency +50%": {"kind": "latency", "multiply": 1.5},
    "crash after full shift": {"kind": "crash"},
}
HEALTHY = "healthy"
_STRATEGIES = {
    "canary 10% 5m": "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "canary 10% 15m": "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "linear 10% 1m": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "all at once": "CodeDeployDefault.ECSAllAtOnce",
}


@dataclass
class Advice:
    """What :func:`advise` found.

    Attributes:
        results: one row per (candidate, case, measure): ``value``, ``low``, ``high`` (the
            interval; equal to the value when exact), ``method`` (``exact``, ``bounds``,
            ``simulated``), ``n`` (runs behind it).
        candidates: candidate name → its overrides.
        scenario: the scenario advised on.
        regressions: regression name → its spec.
        notes: what the reader must know (undecided intervals, what was simulated and why).
    """

    results: pd.DataFrame
    candidates: dict[str, dict[str, Any]]
    scenario: Scenario
    regressions: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per candidate; ``<measure>``, ``<measure>_low``, ``<measure>_high`` columns
        (measures of regressions are named ``<measure> [<regression>]``)."""
        r = self.results.copy()
        r["column"] = np.where(
            r["case"] == HEALTHY, r["measure"], r["measure"] + " [" + r["case"] + "]"
        )
        out = pd.DataFrame(index=list(self.candidates))
        for suffix, col in (("", "value"), ("_low", "low"), ("_high", "high")):
            wide = r.pivot_table(index="candidate", columns="column", values=col, aggfunc="first")
            out = out.join(wide.add_suffix(suffix))
        order = [name + s for name in _column_order(r) for s in ("", "_low", "_high")]
        out = out[[c for c in order if c in out.columns]]
        out.index.name = "candidate"
        return out

    def recommend(self, **constraints):
        """Shorthand for :func:`bluegreen_sim.analysis.recommend.recommend` on this advice."""
        from .recommend import recommend

        return recommend(self, **constraints)


def _column_order(r: pd.DataFrame) -> list[str]:
    seen: dict[str, None] = {}
    for c in r["column"]:
        seen.setdefault(c, None)
    return list(seen)


# --------------------------------------------------------------------------------------------
# Candidates and regressions


def load_candidates(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a candidates file: a mapping ``name: {dotted.override: value, ...}`` (optionally
    under a top-level ``candidates:`` key).

    Raises:
        ScenarioError: the file is missing, not YAML, or not such a mapping.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(str(path), None, f"not a readable YAML file ({exc})") from None
    if isinstance(data, dict) and set(data) == {"candidates"}:
        data = data["candidates"]
    if not isinstance(data, dict) or not data:
        raise ScenarioError(str(path), "candidates", "expected a mapping of name: {overrides}")
    out = {}
    for name, overrides in data.items():
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise ScenarioError(str(path), f"candidates.{name}", "expected a mapping of overrides")
        out[str(name)] = dict(overrides)
    return out


def default_candidates(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """A grid around the scenario's own setting: CodeDeploy strategies × alarm thresholds.

    Strategies: the scenario's own, canary 10 % for 5 and 15 minutes, linear 10 % a minute, all
    at once. Thresholds: half, the same as and twice the first deployment alarm's (rounded for
    counts). Without CodeDeploy or without an alarm, only what applies is varied.
    """
    strategies: dict[str, dict[str, Any]] = {"own": {}}
    if scenario.deployment.controller == "codedeploy":
        own = scenario.deployment.config
        for name, config in _STRATEGIES.items():
            if config != own:
                strategies[name] = {"deployment.config": config}
    thresholds: dict[str, dict[str, Any]] = {"": {}}
    names = [a.name for a in scenario.alarms]
    if scenario.deployment.alarms:
        i = names.index(scenario.deployment.alarms[0])
        thr = scenario.alarms[i].threshold
        count = scenario.alarms[i].expression is None
        for factor in (0.5, 2.0):
            value = max(1.0, round(thr * factor)) if count else thr * factor
            if value != thr:
                thresholds[f", threshold {value:g}"] = {f"alarms.{i}.threshold": value}
    return {s + t: {**so, **to} for s, so in strategies.items() for t, to in thresholds.items()}


def _healthy_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """The scenario with green as good as blue: blue's error rate, no faults on green."""
    data = apply_overrides(raw, {})
    data = {**data}
    green = dict(data.get("green") or {})
    service = data.get("service") or {}
    blue = data.get("blue") or {}
    base = blue.get("error_rate")
    if base is None:
        base = service.get("error_rate", 0.0)
    green["error_rate"] = base
    data["green"] = green
    data["faults"] = [f for f in data.get("faults") or [] if f.get("revision") == "blue"]
    return data


def _regression_raw(healthy: dict[str, Any], spec: dict[str, Any], name: str) -> dict[str, Any]:
    kind = spec.get("kind")
    data = dict(healthy)
    if kind == "errors":
        data["green"] = {**data["green"], "error_rate": data["green"]["error_rate"] + spec["delta"]}
    elif kind == "latency":
        fault = {"kind": "latency", "revision": "green", "multiply": spec.get("multiply", 1.5)}
        data["faults"] = [*data["faults"], fault]
    elif kind == "crash":
        fault = {
            "kind": "crash",
            "revision": "green",
            "after": spec.get("after", "full_traffic"),
            "at": spec.get("at", 0.0),
            "fraction": spec.get("fraction", 1.0),
        }
        data["faults"] = [*data["faults"], fault]
    else:
        raise ScenarioError(
            "regressions", name, f"kind must be errors, latency or crash; got {kind!r}"
        )
    return data


# --------------------------------------------------------------------------------------------
# Running simulations


def _run_one(scenario: Scenario, seed: int) -> dict[str, Any]:
    return _run_summary(simulate(scenario, seed=seed).summary)


def _run_summary(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "detected": bool(s["outcome_reason"] and str(s["outcome_reason"]).startswith("alarm")),
        "ttd": s["time_to_detect_s"],
        "failed": s["requests_failed_green"],
        "duration": s["deployment_duration_s"],
        "cost": s["cost_usd"],
        "production_traffic_s": s["production_traffic_s"],
        "deployment_start_s": s["deployment_start_s"],
        "deployment_end_s": s["deployment_end_s"],
    }


class _Runner:
    """Runs (scenario, seed) jobs serially, on local processes or on Dask."""

    def __init__(self, backend: str, workers: int | None, address: str | None):
        if backend not in ("serial", "processes", "dask"):
            raise ValueError("backend must be serial, processes or dask")
        self.backend, self._pool, self._client = backend, None, None
        if backend == "processes":
            self._pool = ProcessPoolExecutor(max_workers=workers)
        elif backend == "dask":
            from dask.distributed import Client, LocalCluster

            self._client = (
                Client(address)
                if address
                else Client(LocalCluster(n_workers=workers, processes=True, threads_per_worker=1))
            )

    def map(self, jobs: list[tuple[Scenario, int]]) -> list[dict[str, Any]]:
        if self._pool is not None:
            return list(self._pool.map(_run_one, *zip(*jobs, strict=True))) if jobs else []
        if self._client is not None:
            futures = self._client.map(_run_one, *zip(*jobs, strict=True), pure=False)
            return self._client.gather(futures)
        return [_run_one(s, seed) for s, seed in jobs]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._client is not None:
            self._client.close()


# --------------------------------------------------------------------------------------------
# The analytic path


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


def _row(case, measure, value, low, high, method, n) -> dict[str, Any]:
    return {
        "case": case,
        "measure": measure,
        "value": value,
        "low": low,
        "high": high,
        "method": method,
        "n": n,
    }


# --------------------------------------------------------------------------------------------
# Simulated measures


def _simulated_rows(case: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    n = len(runs)
    k = sum(r["detected"] for r in runs)
    lo, hi = wilson_interval(k, n)
    rows = []
    if case == HEALTHY:
        rows.append(_row(case, "P(false rollback)", k / n, lo, hi, "simulated", n))
        return rows + _speed_rows([r for r in runs if not r["detected"]])
    rows.append(_row(case, "P(detect)", k / n, lo, hi, "simulated", n))
    ttd = np.sort([r["ttd"] for r in runs if r["detected"] and r["ttd"] is not None])
    if len(ttd):
        a, b = _median_ranks(len(ttd))
        median = float(np.median(ttd))
        rows.append(
            _row(case, "median time to detect (s)", median, ttd[a], ttd[b], "simulated", len(ttd))
        )
    else:
        rows.append(
            _row(case, "median time to detect (s)", math.nan, math.nan, math.nan, "simulated", 0)
        )
    m, mean, low, high = mean_interval([r["failed"] for r in runs])
    rows.append(_row(case, "failed requests", mean, low, high, "simulated", m))
    return rows


def _speed_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Duration and cost of healthy deployments that went through (not rolled back)."""
    rows = []
    for key, measure in (("duration", "deployment duration (s)"), ("cost", "cost (USD)")):
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            m, mean, low, high = mean_interval(values)
            rows.append(_row(HEALTHY, measure, mean, low, high, "simulated", m))
    return rows


def _median_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """Order-statistic indices bracketing the median with at least ``confidence`` (binomial)."""
    from scipy import stats

    lo = int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))
    hi = int(stats.binom.isf((1 - confidence) / 2, n, 0.5))
    return max(lo - 1, 0), min(hi, n - 1)


def _settled(case: str, runs: list[dict[str, Any]], targets: dict[str, float], tol: float) -> bool:
    """Tight enough to rank: the interval is narrow, or clearly on one side of its target."""
    n = len(runs)
    k = sum(r["detected"] for r in runs)
    lo, hi = wilson_interval(k, n)
    if (hi - lo) / 2 <= tol:
        return True
    target = targets.get(case)
    return target is not None and (hi < target or lo > target)


# --------------------------------------------------------------------------------------------
# advise


def advise(
    scenario: Scenario | str | Path,
    candidates: dict[str, dict[str, Any]] | str | Path | None = None,
    regressions: dict[str, dict[str, Any]] | None = None,
    *,
    max_false_rollback: float = 0.01,
    min_detect: float = 0.95,
    constraint_regression: str = "errors +1%",
    method: str = "auto",
    backend: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    pilots: int = 3,
    batch: int = 10,
    min_reps: int = 10,
    max_reps: int = 100,
    tolerance: float = 0.05,
    seed: int = 0,
) -> Advice:
    """Measure every candidate against a healthy release and each regression.

    Args:
        scenario: the scenario (or its path) whose traffic, service and alarms are advised on.
        candidates: name → dotted overrides, or the path of a candidates YAML file; ``None``:
            :func:`default_candidates`.
        regressions: name → ``{kind: errors, delta}`` / ``{kind: latency, multiply}`` /
            ``{kind: crash, after}``; ``None``: :data:`DEFAULT_REGRESSIONS`.
        max_false_rollback, min_detect, constraint_regression: the constraints the
            simulation's replications are sized for (an interval on the far side of its
            constraint needs no more runs).
        method: ``auto`` (exact where it applies, else simulated) or ``simulate`` (always).
        backend: ``serial``, ``processes`` or ``dask`` for the simulated runs.
        workers: processes (or local Dask workers); default all cores.
        address: an existing Dask scheduler.
        pilots: healthy runs per candidate that give the analytic path its schedules.
        batch: replications added per round; ``min_reps``, ``max_reps``: bounds on them.
        tolerance: the half-width of a probability's interval that is tight enough.
        seed: replication r runs with seed ``seed + r`` everywhere (common random numbers).

    Raises:
        ScenarioError: a candidate's overrides or a regression do not make a valid scenario.
    """
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(candidates, str | Path):
        candidates = load_candidates(candidates)
    candidates = dict(candidates) if candidates else default_candidates(base)
    regressions = dict(DEFAULT_REGRESSIONS if regressions is None else regressions)
    if method not in ("auto", "simulate"):
        raise ValueError("method must be auto or simulate")

    raw = base.model_dump(mode="json", exclude={"base_dir"})
    built: dict[tuple[str, str], Scenario] = {}
    for name, overrides in candidates.items():
        source = f"candidate {name!r}"
        healthy = _healthy_raw(apply_overrides(raw, overrides, source))
        built[name, HEALTHY] = scenario_from_dict(healthy, source, base_dir=base.base_dir)
        for reg, spec in regressions.items():
            data = _regression_raw(healthy, spec, reg)
            built[name, reg] = scenario_from_dict(
                data, f"{source}, regression {reg!r}", base_dir=base.base_dir
            )

    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    sim_cells: list[tuple[str, str]] = []
    pilot_cache: dict[tuple[str, int], list] = {}
    runner = _Runner(backend, workers, address)
    try:
        for name in candidates:
            healthy = built[name, HEALTHY]
            exact_cases: dict[str, float] = {}
            try:
                if method != "auto":
                    raise NotAnalytic("method 'simulate'")
                alarm = _analytic_alarm(healthy)
                e0 = healthy.revision("green").error_rate
                exact_cases[HEALTHY] = e0
                for reg, spec in regressions.items():
                    if spec.get("kind") == "errors":
                        exact_cases[reg] = e0 + spec["delta"]
            except NotAnalytic as why:
                if method == "auto":
                    notes.append(f"{name}: simulated ({why})")
            if exact_cases:
                # Pilots that do not watch the alarm: a false rollback would cut their schedule
                # short. Install times have their own random streams, so the candidate with its
                # alarm watched follows the same schedule until it stops.
                # Candidates that differ only in their alarms share pilots (every alarm of a
                # period >= 60 s wakes on the same minutes, whatever its threshold).
                quiet = _without_alarms(healthy)
                key = (quiet.model_dump_json(exclude={"alarms"}), len(quiet.alarms))
                if key not in pilot_cache:
                    pilot_cache[key] = [simulate(quiet, seed=seed + r) for r in range(pilots)]
                pilot_runs = pilot_cache[key]
                pilot_data = [(p.summary, _schedule(p.timeline)) for p in pilot_runs]
                for row in _analytic_cells(healthy, alarm, pilot_data, exact_cases):
                    rows.append({"candidate": name, **row})
                for row in _speed_rows([_run_summary(p.summary) for p in pilot_runs]):
                    rows.append({"candidate": name, **row})
            sim_cells += [
                (name, case) for case in (HEALTHY, *regressions) if case not in exact_cases
            ]
        runs = _adaptive(
            runner,
            built,
            sim_cells,
            seed,
            batch,
            min_reps,
            max_reps,
            tolerance,
            {HEALTHY: max_false_rollback, constraint_regression: min_detect},
        )
    finally:
        runner.close()
    undecided = []
    for (name, case), results in runs.items():
        for row in _simulated_rows(case, results):
            rows.append({"candidate": name, **row})
        if not _settled(
            case,
            results,
            {HEALTHY: max_false_rollback, constraint_regression: min_detect},
            tolerance,
        ):
            undecided.append(f"{name} / {case}")
    if undecided:
        notes.append(
            f"intervals not tight enough to rank after {max_reps} replications: "
            + "; ".join(undecided)
        )
    results = pd.DataFrame(
        rows, columns=["candidate", "case", "measure", "value", "low", "high", "method", "n"]
    )
    return Advice(results, candidates, base, regressions, notes)


def _adaptive(runner, built, cells, seed, batch, min_reps, max_reps, tol, targets):
    """Add replications to unsettled cells, a batch at a time, with common seeds."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in cells}
    active = list(cells)
    done = 0
    while active and done < max_reps:
        size = max(min(batch, max_reps - done), min(min_reps, max_reps) - done)
        seeds = [seed + done + r for r in range(size)]
        jobs = [(built[c], s) for c in active for s in seeds]
        out = runner.map(jobs)
        for i, c in enumerate(active):
            runs[c] += out[i * size : (i + 1) * size]
        done += size
        active = [c for c in active if not _settled(c[1], runs[c], targets, tol)]
    return runs

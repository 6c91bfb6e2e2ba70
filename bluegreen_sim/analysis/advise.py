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

This module holds the result (:class:`Advice`) and the orchestration; the candidates and
regressions are in :mod:`.candidates`, the analytic path in :mod:`.analytic`, the simulated runs
and their adaptive replication in :mod:`.replications`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine.simulation import simulate
from ..scenario import Scenario, apply_overrides, load_scenario, scenario_from_dict
from .analytic import _analytic_alarm, _analytic_cells, _schedule, _without_alarms
from .candidates import (
    DEFAULT_REGRESSIONS,
    HEALTHY,
    _healthy_raw,
    _regression_raw,
    default_candidates,
    load_candidates,
)
from .detection import NotAnalytic
from .replications import _adaptive, _run_summary, _Runner, _settled, _simulated_rows, _speed_rows

__all__ = [
    "DEFAULT_REGRESSIONS",
    "Advice",
    "advise",
    "default_candidates",
    "load_candidates",
]


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

"""How long advice takes. Prints figures; asserts nothing.

1. The analytic path on a 50-candidate grid: ``scenarios/canary-bad-green.yaml`` (30 minutes,
   150 req/s), 5 CodeDeploy strategies × 10 alarm settings (count and error-rate alarms,
   thresholds, M of N), the four error regressions. Reported: the whole ``advise`` call (pilot
   simulations included: 2 per strategy, shared by its alarm settings) and the chain alone
   (the same call again, pilots cached by re-running only the analysis).
2. A simulated advise run of a 20-candidate grid on 2 cores: the same scenario shortened to 15
   minutes at 50 req/s, 4 strategies × 5 alarm settings, ``method="simulate"``, the six default
   regressions and the healthy release, ``backend="processes"`` with 2 workers, replications
   adaptive in batches of 10 up to ``--max-reps``.

Usage::

    python benchmarks/bench_advise.py                   # both
    python benchmarks/bench_advise.py --skip-simulated  # the analytic path only
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from bluegreen_sim import advise, load_scenario
from bluegreen_sim.analysis import advise as advise_module

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "canary-bad-green.yaml"
STRATEGIES = {
    "canary 10% 5m": {},
    "canary 10% 15m": {"deployment.config": "CodeDeployDefault.ECSCanary10Percent15Minutes"},
    "linear 10% 1m": {"deployment.config": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"},
    "linear 10% 3m": {"deployment.config": "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"},
    "all at once": {"deployment.config": "CodeDeployDefault.ECSAllAtOnce"},
}


def _rate_alarm(threshold: float, m: int, n: int) -> dict:
    refs = {
        "e": {"metric": "HTTPCode_Target_5XX_Count", "target_group": "green"},
        "r": {"metric": "RequestCount", "target_group": "green"},
    }
    return {
        "alarms.0": {
            "name": "green-5xx",
            "expression": "100 * e / r",
            "metrics": refs,
            "period": 60,
            "evaluation_periods": n,
            "datapoints_to_alarm": m,
            "threshold": threshold,
            "treat_missing_data": "notBreaching",
        }
    }


ALARMS = {
    "sum>20 2/3": {},
    "sum>10 2/3": {"alarms.0.threshold": 10},
    "sum>40 2/3": {"alarms.0.threshold": 40},
    "sum>20 1/1": {"alarms.0.evaluation_periods": 1, "alarms.0.datapoints_to_alarm": 1},
    "sum>20 3/5": {"alarms.0.evaluation_periods": 5, "alarms.0.datapoints_to_alarm": 3},
    "rate>0.6 2/3": _rate_alarm(0.6, 2, 3),
    "rate>0.4 3/3": _rate_alarm(0.4, 3, 3),
    "rate>1 1/1": _rate_alarm(1.0, 1, 1),
    "rate>0.6 2/3 missing": {**_rate_alarm(0.6, 2, 3)},
    "sum>20 2/3 breaching": {"alarms.0.treat_missing_data": "breaching"},
}
ALARMS["rate>0.6 2/3 missing"]["alarms.0"] = {
    **ALARMS["rate>0.6 2/3 missing"]["alarms.0"],
    "treat_missing_data": "missing",
}
ERRORS = {k: v for k, v in advise_module.DEFAULT_REGRESSIONS.items() if v["kind"] == "errors"}


def grid(strategies: dict, alarms: dict) -> dict:
    return {f"{s} | {a}": {**so, **ao} for s, so in strategies.items() for a, ao in alarms.items()}


def analytic() -> None:
    scenario = load_scenario(SCENARIO)
    candidates = grid(STRATEGIES, ALARMS)
    t = time.perf_counter()
    advice = advise(scenario, candidates, ERRORS, pilots=2)
    total = time.perf_counter() - t
    methods = advice.results.groupby("method").size().to_dict()
    # The chain alone: the same analysis on pilots already run.
    simulate_calls = []
    original = advise_module.simulate

    def cached(s, seed=None, **kw):
        key = (s.model_dump_json(exclude={"alarms"}), seed)
        if key not in cache:
            simulate_calls.append(key)
            cache[key] = original(s, seed=seed, **kw)
        return cache[key]

    cache: dict = {}
    advise_module.simulate = cached
    try:
        advise(scenario, candidates, ERRORS, pilots=2)  # fills the cache
        t = time.perf_counter()
        advise(scenario, candidates, ERRORS, pilots=2)
        chain = time.perf_counter() - t
    finally:
        advise_module.simulate = original
    print(f"analytic path, {len(candidates)} candidates x (healthy + {len(ERRORS)} regressions):")
    print(f"  advise() total            {total:7.2f} s   (measures by method: {methods})")
    print(f"  of which the chain alone  {chain:7.2f} s   ({len(simulate_calls)} pilot runs cached)")


def simulated(max_reps: int, workers: int) -> None:
    scenario = load_scenario(SCENARIO, {"duration": "15m", "load.rps": 50})
    strategies = dict(list(STRATEGIES.items())[:1] + list(STRATEGIES.items())[2:])
    alarms = dict(list(ALARMS.items())[:5])
    candidates = grid(strategies, alarms)
    t = time.perf_counter()
    advice = advise(
        scenario,
        candidates,
        method="simulate",
        backend="processes",
        workers=workers,
        batch=10,
        min_reps=10,
        max_reps=max_reps,
    )
    total = time.perf_counter() - t
    runs = int(
        advice.results[advice.results.measure.isin(["P(detect)", "P(false rollback)"])]["n"].sum()
    )
    print(
        f"simulated advise, {len(candidates)} candidates x 7 cases, processes x {workers}, "
        f"max {max_reps} reps:"
    )
    print(f"  {total:7.1f} s for {runs} runs ({runs / total:.1f} runs/s)")
    undecided = [n for n in advice.notes if "not tight" in n]
    print(f"  undecided cells: {undecided[0].count(';') + 1 if undecided else 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-simulated", action="store_true")
    parser.add_argument("--max-reps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}")
    analytic()
    if not args.skip_simulated:
        simulated(args.max_reps, args.workers)


if __name__ == "__main__":
    main()

"""The fast data plane against a plain request-by-request SimPy model (tests/reference_model.py).

A small deployment with everything that touches in-flight requests: a canary shift, a crash of
blue tasks (ECS starts replacements), green taking all traffic, blue drained with a short
deregistration delay (requests still in flight are cut: ELB 502), an idle timeout (ELB 504)
and per-revision error rates. The engine runs the scenario; the times at which targets entered
and left service and the weights changed are read from its event log and given to the
reference model, which then serves the same load its own obvious way. Over independent seeds
the two must agree statistically on every outcome count and on the latency distribution.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reference_model import RefConfig, run_reference
from theory import t_quantile

from bluegreen_sim.engine.simulation import simulate
from bluegreen_sim.scenario import scenario_from_dict

SEEDS = range(8)
SCENARIO = {
    "name": "agreement",
    "duration": 420,
    "load": {"rps": 12},
    "service": {
        "tasks": 3,
        "concurrency": 2,
        "latency": {"distribution": "exponential", "mean": 0.25},
        "startup": {"distribution": "constant", "value": 30},
    },
    "blue": {"error_rate": 0.02},
    "green": {"error_rate": 0.05},
    "load_balancer": {
        "idle_timeout": 1.5,
        "deregistration_delay": 1,
        "health_check": {"enabled": False},
    },
    "faults": [
        {"kind": "crash", "revision": "blue", "at": 150, "fraction": 0.5},
        {"kind": "crash", "revision": "green", "at": 300, "fraction": 0.5},
    ],
    "deployment": {
        "controller": "steps",
        "start": 60,
        "steps": [{"weight": 30, "pause": 120}, {"weight": 100, "pause": 60}],
    },
}


def reference_config(result, seed: int, slots: int, mean: float) -> RefConfig:
    """The engine's control-plane history, as the reference model's inputs."""
    w = 1.0  # the engine's window: control changes apply from the next window boundary
    ev = result.events

    def boundary(t: float) -> float:
        return math.ceil(t / w - 1e-9) * w

    targets: dict[str, dict] = {}
    for name in ("blue-1", "blue-2", "blue-3"):
        targets[name] = {"revision": "blue", "concurrency": slots, "start": 0.0}
    for t, event, detail in zip(ev["time_s"], ev["event"], ev["detail"], strict=True):
        name = detail.split(" ")[0].rstrip(":")
        if event == "task running":
            targets[name] = {
                "revision": name.split("-")[0],
                "concurrency": slots,
                "start": boundary(t),
            }
        elif event == "target draining":
            targets[name]["drain_at"] = boundary(t)
        elif event == "task stopped":
            targets[name]["stop"] = float(t)
    weights = [(0.0, 0.0)]
    for t, event, detail in zip(ev["time_s"], ev["event"], ev["detail"], strict=True):
        if event == "production traffic shifted":
            weights.append((boundary(t), float(re.match(r"green ([\d.]+)%", detail).group(1))))
    return RefConfig(
        duration=SCENARIO["duration"],
        rps=SCENARIO["load"]["rps"],
        targets=list(targets.values()),
        weights=weights,
        routing="round_robin",
        service={"distribution": "exponential", "mean": mean},
        error_rate={"blue": 0.02, "green": 0.05},
        idle_timeout=1.5,
        seed=1000 + seed,
    )


def figures(status: np.ndarray, latency_ms: np.ndarray, revision: np.ndarray) -> dict:
    ok = status == 200
    return {
        **{f"n{code}": float((status == code).sum()) for code in (200, 500, 502, 503, 504)},
        "green_share": float((revision == "green").mean()),
        "mean_ok_ms": float(latency_ms[ok].mean()),
        "p90_ok_ms": float(np.quantile(latency_ms[ok], 0.9)),
    }


# Single-slot targets are served by the vectorised prefix scan, multi-slot ones by the
# per-request kernel: both are checked.
@pytest.fixture(scope="module", params=[(1, 0.1), (2, 0.25)], ids=["1-slot", "2-slots"])
def paired_runs(request):
    slots, mean = request.param
    raw = json.loads(json.dumps(SCENARIO))
    raw["service"]["concurrency"] = slots
    raw["service"]["latency"]["mean"] = mean
    scenario = scenario_from_dict(raw, "agreement")
    engine, reference, crashed = [], [], []
    for seed in SEEDS:
        res = simulate(scenario, seed=seed, record_requests=True)
        r = res.requests
        engine.append(
            figures(r["status"].to_numpy(), r["latency_ms"].to_numpy(), r["revision"].to_numpy())
        )
        crashed.append(int(res.events["detail"].str.contains("crashed").sum()))
        ref = run_reference(reference_config(res, seed, slots, mean))
        reference.append(figures(ref["status"], ref["latency_ms"], ref["revision"]))
    return engine, reference, crashed


def test_the_scenario_exercises_every_outcome(paired_runs):
    engine, _, crashed = paired_runs
    assert sum(crashed) > 0
    for code in (500, 502, 504):
        assert sum(f[f"n{code}"] for f in engine) > 0, f"no {code} in the engine runs"


# The largest relative difference each comparison can miss (its power); None for rare counts.
RESOLUTION = {
    "n200": 0.1,
    "n500": 0.25,
    "n502": None,
    "n504": None,
    "green_share": 0.1,
    "mean_ok_ms": 0.1,
    "p90_ok_ms": 0.1,
}


@pytest.mark.parametrize("figure", list(RESOLUTION))
def test_engine_agrees_with_the_request_by_request_model(paired_runs, figure):
    engine, reference, _ = paired_runs
    a = np.array([f[figure] for f in engine])
    b = np.array([f[figure] for f in reference])
    # Welch interval for the difference of means over independent seeds (99 %).
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    half = t_quantile(0.99, len(a) + len(b) - 2) * se
    diff = a.mean() - b.mean()
    assert abs(diff) <= half + 1e-9, (
        f"{figure}: engine {a.mean():.4g} vs reference {b.mean():.4g} (±{half:.3g})"
    )
    # ...and the test has power: the interval is narrow next to the figure itself.
    if RESOLUTION[figure] is not None:
        assert half < RESOLUTION[figure] * abs(b.mean())

"""Fixed-seed regression values of whole scenarios.

The statistical tests say the model is right; these say it has not changed. They pin exact
numbers of two runs (CodeDeploy canary with an alarm rollback; ECS linear with least
outstanding requests, 8-slot tasks and a crash), so any change to the random-number use, the
queues or the controllers shows up here. When a change is intended, re-pin the values and say
why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_sim import load_scenario, simulate
from bluegreen_sim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent


def check(summary, expected):
    for key, value in expected.items():
        if isinstance(value, float):
            assert summary[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert summary[key] == value, key


def test_codedeploy_canary_rollback_seed_7():
    s = simulate(load_scenario(ROOT / "scenarios" / "canary-bad-green.yaml"), seed=7).summary
    check(
        s,
        {
            "outcome": "ROLLED_BACK",
            "requests_total": 271223,
            "requests_failed": 364,
            "requests_failed_green": 104,
            "requests_502": 0,
            "time_to_detect_s": 74.94166001965803,
            "rollback_start_s": 300.0,
            "latency_p99_ms": 244.54291021157533,
            "worst_minute_p99_ms": 272.8287843244732,
            "peak_tasks": 20,
            "vcpu_hours": 2.774027777777778,
        },
    )


def test_ecs_linear_least_outstanding_with_a_crash_seed_3():
    sc = scenario_from_dict(
        {
            "duration": 600,
            "load": {"rps": 300},
            "service": {
                "tasks": 4,
                "concurrency": 8,
                "latency": {"distribution": "exponential", "mean": 0.08},
            },
            "load_balancer": {"routing": "least_outstanding_requests", "idle_timeout": 2},
            "deployment": {
                "controller": "ecs",
                "start": 30,
                "strategy": "LINEAR",
                "linear": {"step_percent": 25, "step_bake_time": "1m"},
                "bake_time": "2m",
            },
            "faults": [
                {
                    "kind": "crash",
                    "revision": "green",
                    "after": "production_traffic",
                    "at": 45,
                    "fraction": 0.5,
                }
            ],
        }
    )
    s = simulate(sc, seed=3).summary
    check(
        s,
        {
            # The crash hits 3 of 4 green tasks after they were healthy: the circuit breaker
            # does not count them (documented counting), the linear shift goes on, and the one
            # task left takes green's share until the replacements pass 5 checks 30 s apart.
            "outcome": "IN_PROGRESS",
            "requests_total": 179805,
            "requests_failed": 27773,
            "requests_502": 5,
            "requests_504": 27768,
            "rollback_start_s": None,
            "full_traffic_s": 417.0,
            "latency_p99_ms": 1996.0202566109103,
            "worst_minute_p99_ms": 1996.0202566109103,
            "peak_tasks": 10,
            "vcpu_hours": 0.6830099981635739,
        },
    )

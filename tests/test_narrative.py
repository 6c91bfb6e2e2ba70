"""Golden narratives: every event of a run, for each controller path, checked line by line.

The events (``Result.events``: the controller's stages and their details, the ALB's weight
changes and targets, the tasks, the alarms, the faults) are what students read step by step:
what the deployment did and why. Each case below runs a small deterministic scenario (fixed
seed, a few tasks, a low request rate, minutes of simulated time) and compares its whole event
log with ``tests/narrative/<case>.txt``, one event per line; a mismatch fails with a unified
diff.

After an intended change of the narrative, regenerate the golden files and review the diff::

    BLUEGREEN_UPDATE_NARRATIVE=1 python -m pytest tests/test_narrative.py

Times are written in whole milliseconds, so floating-point noise cannot flip them.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import five_xx_alarm, health_checks, service

from bluegreen_sim import simulate
from bluegreen_sim.scenario import scenario_from_dict

GOLDEN = Path(__file__).parent / "narrative"
UPDATE = os.environ.get("BLUEGREEN_UPDATE_NARRATIVE") == "1"

# -- the worlds -------------------------------------------------------------------------------

# Green's 5XX count over a minute: trips after a minute of a bad green serving traffic.
GREEN_5XX = five_xx_alarm("green-5xx", target_group="green", threshold=3)
# The one target group's 5XX count (a rolling update has no green target group).
LB_5XX = five_xx_alarm("lb-5xx", threshold=3)
# Never in ALARM: its name still appears where the deployment lists what it watches.
QUIET = {**GREEN_5XX, "name": "quiet", "threshold": 1e9}
# Green's 5XX count again: trips with green-5xx, so two alarms are in ALARM at once.
GREEN_ERRORS = {**GREEN_5XX, "name": "green-errors"}
# Blue's request count over a minute above -1: in ALARM from its first evaluation on.
BLUE_BUSY = {
    "name": "blue-busy",
    "metric": "RequestCount",
    "target_group": "blue",
    "statistic": "Sum",
    "period": "60s",
    "evaluation_periods": 1,
    "threshold": -1,
    "comparison": "GreaterThanThreshold",
}
BAD_GREEN = {"kind": "error_rate", "revision": "green", "error_rate": 0.5}


def _world(deployment: dict, *, duration: str, test_listener: bool = True, **extra) -> dict:
    """Two tasks, 4 requests a second, a deployment starting at 30 s."""
    return {
        "name": "narrative",
        "duration": duration,
        "load": {"rps": 4},
        "service": service(2, mean=0.01, startup=20),
        "load_balancer": {
            "deregistration_delay": "5s",
            "test_listener": test_listener,
            "health_check": health_checks(10, healthy_threshold=2),
        },
        "alarms": [GREEN_5XX, QUIET],
        "deployment": {"start": "30s", **deployment},
        **extra,
    }


def _rolling(deployment: dict, *, duration: str, minimum: int = 50, **extra) -> dict:
    """A rolling update of three tasks, keeping ``minimum`` % healthy (50 %: two) and at most
    four running (150 %)."""
    raw = _world(
        {"controller": "ecs", "strategy": "ROLLING", **deployment},
        duration=duration,
        test_listener=False,
        **extra,
    )
    raw["service"] = service(
        3, mean=0.01, startup=20, minimum_healthy_percent=minimum, maximum_percent=150
    )
    raw["alarms"] = [LB_5XX]
    return raw


LAMBDA_OK = {"kind": "lambda", "duration": "10s"}
LAMBDA_FAILS = {"kind": "lambda", "duration": "5s", "outcome": "Failed"}
PROBE = {"kind": "probe", "requests": 20, "rate": 10, "max_error_rate": 0.05, "max_p99": "1s"}

CASES: dict[str, dict[str, Any]] = {
    # CodeDeploy, all at once, no test listener: the AfterAllowTestTraffic hook is ignored.
    "codedeploy-all-at-once": _world(
        {
            "controller": "codedeploy",
            "config": "CodeDeployDefault.ECSAllAtOnce",
            "termination_wait": "1m",
            "alarms": ["quiet"],
            "auto_rollback": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
            "hooks": {"AfterAllowTestTraffic": LAMBDA_OK},
        },
        duration="3m",
        test_listener=False,
    ),
    # CodeDeploy, all at once, behind a listener whose changes take 5 s to apply and a target
    # group with a 30-s slow start: green's targets ramp up as they turn healthy.
    "codedeploy-slow-start-listener-delay": _world(
        {"controller": "codedeploy", "config": "CodeDeployDefault.ECSAllAtOnce"},
        duration="3m",
        test_listener=False,
        load_balancer={
            "deregistration_delay": "5s",
            "slow_start": "30s",
            "listener_change_delay": "5s",
            "health_check": health_checks(10, healthy_threshold=2),
        },
    ),
    # CodeDeploy, linear 50 % a minute, a bad green: the alarm rolls back during AllowTraffic,
    # green's share moved back at once.
    "codedeploy-linear-alarm-rollback": _world(
        {
            "controller": "codedeploy",
            "config": {"type": "TimeBasedLinear", "percentage": 50, "interval": "2m"},
            "termination_wait": "1m",
            "alarms": ["green-5xx"],
            "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
        },
        duration="5m",
        faults=[BAD_GREEN],
    ),
    # CodeDeploy canary with hooks: a Lambda after Install, a test-traffic probe, the ready wait
    # an operator ends, a BeforeAllowTraffic Lambda that fails with p = 0.1 (not this time), then
    # an alarm in the termination wait rolls back with the reroute to blue delayed.
    "codedeploy-canary-hooks": _world(
        {
            "controller": "codedeploy",
            "config": {"type": "TimeBasedCanary", "percentage": 25, "interval": "1m"},
            "termination_wait": "3m",
            "alarms": ["green-5xx"],
            "auto_rollback": ["DEPLOYMENT_STOP_ON_ALARM"],
            "rollback_reroute_delay": "10s",
            "ready_wait": {
                "action_on_timeout": "STOP_DEPLOYMENT",
                "wait": "5m",
                "continue_at": "2m",
            },
            "hooks": {
                "AfterInstall": LAMBDA_OK,
                "AfterAllowTestTraffic": PROBE,
                "BeforeAllowTraffic": {**LAMBDA_OK, "failure_probability": 0.1},
            },
        },
        duration="8m",
        faults=[{**BAD_GREEN, "after": "full_traffic", "at": "30s"}],
    ),
    # CodeDeploy without a test listener (AfterAllowTestTraffic skipped, no hook to ignore): the
    # AfterAllowTraffic hook fails; the failure rolls back.
    "codedeploy-hook-fails": _world(
        {
            "controller": "codedeploy",
            "termination_wait": "1m",
            "auto_rollback": ["DEPLOYMENT_FAILURE"],
            "hooks": {"AfterAllowTraffic": LAMBDA_FAILS},
        },
        duration="2m",
        test_listener=False,
    ),
    # CodeDeploy: green never turns healthy; Install times out, no rollback configured.
    "codedeploy-install-timeout": _world(
        {"controller": "codedeploy", "install_timeout": "1m", "auto_rollback": []},
        duration="2m",
        faults=[{"kind": "health_check", "revision": "green"}],
    ),
    # ECS canary: hooks at POST_SCALE_UP (Lambda), the test traffic shift (probe), a pause
    # that times out and continues, a Lambda at each production shift, a pause continued;
    # alarms and the circuit breaker watched; bake, clean-up.
    "ecs-canary-hooks": _world(
        {
            "controller": "ecs",
            "strategy": "CANARY",
            "canary": {"canary_percent": 20, "canary_bake_time": "1m"},
            "bake_time": "1m",
            "alarms": ["quiet"],
            "hooks": {
                "POST_SCALE_UP": LAMBDA_OK,
                "TEST_TRAFFIC_SHIFT": PROBE,
                "POST_TEST_TRAFFIC_SHIFT": {
                    "kind": "pause",
                    "timeout": "1m",
                    "timeout_action": "CONTINUE",
                },
                "PRODUCTION_TRAFFIC_SHIFT": {"kind": "lambda", "duration": "2s"},
                "POST_PRODUCTION_TRAFFIC_SHIFT": {"kind": "pause", "continue_after": "5s"},
            },
        },
        duration="6m",
    ),
    # ECS linear 50 %, a bad green: two alarms trip together and roll back during the step bake.
    "ecs-linear-alarm-rollback": _world(
        {
            "controller": "ecs",
            "strategy": "LINEAR",
            "linear": {"step_percent": 50, "step_bake_time": "3m"},
            "bake_time": "1m",
            "alarms": ["green-5xx", "green-errors"],
        },
        duration="5m",
        alarms=[GREEN_5XX, GREEN_ERRORS],
        faults=[BAD_GREEN],
    ),
    # ECS linear: two alarms already in ALARM when the deployment starts are not monitored
    # (AWS: an alarm in ALARM at the start is ignored for the deployment), which succeeds.
    "ecs-alarms-in-alarm-at-start": _world(
        {
            "controller": "ecs",
            "start": "90s",
            "strategy": "LINEAR",
            "linear": {"step_percent": 50, "step_bake_time": "30s"},
            "alarms": ["blue-busy", "blue-busier"],
        },
        duration="4m",
        alarms=[BLUE_BUSY, {**BLUE_BUSY, "name": "blue-busier"}],
    ),
    # ECS blue/green, a slow-starting green (its application answers 90 s after the task runs)
    # and a 2-minute health-check grace period: ECS ignores the failing checks until the grace
    # period ends, by when green is healthy.
    "ecs-grace-period": _world(
        {"controller": "ecs", "circuit_breaker": {"enable": False}},
        duration="5m",
        green={"app_start": "90s"},
        service={**service(2, mean=0.01, startup=20), "health_check_grace_period": "120s"},
        load_balancer={
            "deregistration_delay": "5s",
            "health_check": health_checks(10, healthy_threshold=3, unhealthy_threshold=2),
        },
    ),
    # ECS blue/green: green's tasks crash before they are healthy; the circuit breaker rolls back.
    "ecs-circuit-breaker": _world(
        {"controller": "ecs", "circuit_breaker": {"threshold": {"type": "COUNT", "value": 3}}},
        duration="3m",
        faults=[
            {
                "kind": "crash_loop",
                "revision": "green",
                "uptime": {"distribution": "constant", "value": "5s"},
            }
        ],
    ),
    # ECS blue/green: green's tasks crash, some after they were healthy (ignored), some before
    # (counted), and a healthy task resets the count; the deployment succeeds.
    "ecs-circuit-breaker-ignores": _world(
        {
            "controller": "ecs",
            "bake_time": "1m",
            "circuit_breaker": {"threshold": {"type": "COUNT", "value": 5}},
        },
        duration="4m",
        faults=[
            {
                "kind": "crash_loop",
                "revision": "green",
                "uptime": {"distribution": "exponential", "mean": "25s"},
                "duration": "90s",
            }
        ],
    ),
    # ECS rolling update with a bake time: success.
    "rolling-success": _rolling({"bake_time": "1m", "alarms": ["lb-5xx"]}, duration="4m"),
    # ECS rolling update of a bad release, one task at a time (100 % stay healthy): the alarm
    # rolls back by a rolling update.
    "rolling-alarm-rollback": _rolling(
        {"alarms": ["lb-5xx"], "alarm_poll_interval": "10s"},
        duration="5m",
        minimum=100,
        faults=[BAD_GREEN],
    ),
    # ECS rolling update whose new tasks crash: the circuit breaker fails it without rollback.
    "rolling-no-rollback": _rolling(
        {"circuit_breaker": {"rollback": False, "threshold": {"type": "COUNT", "value": 3}}},
        duration="3m",
        faults=[
            {
                "kind": "crash_loop",
                "revision": "green",
                "uptime": {"distribution": "constant", "value": "5s"},
            }
        ],
    ),
    # Steps: 25 % then 100 %, a probe after each step: success, blue removed.
    "steps-success": _world(
        {
            "controller": "steps",
            "alarms": ["quiet"],
            "steps": [{"weight": 25, "pause": "30s"}, {"weight": 100}],
            "hooks": {"analysis": PROBE},
        },
        duration="3m",
    ),
    # Steps with a bad, slow green: the analysis after the first step fails and rolls back.
    "steps-analysis-fails": _world(
        {
            "controller": "steps",
            "steps": [{"weight": 50, "pause": "1m"}, {"weight": 100}],
            "hooks": {"analysis": {**PROBE, "requests": 40}},
        },
        duration="3m",
        test_listener=False,
        faults=[BAD_GREEN, {"kind": "latency", "revision": "green", "add": "1s"}],
    ),
    # Steps with a bad green, no rollback: the alarm stops the deployment where it is.
    "steps-alarm-no-rollback": _world(
        {
            "controller": "steps",
            "alarms": ["green-5xx"],
            "rollback_on_failure": False,
            "steps": [{"weight": 50, "pause": "2m"}, {"weight": 100}],
        },
        duration="4m",
        faults=[BAD_GREEN],
    ),
}


# -- the narrative ----------------------------------------------------------------------------


def narrative(result) -> list[str]:
    """One line per event: time in ms, source, event, and its detail after a bar."""
    lines = []
    for time_s, source, event, detail in result.events.itertuples(index=False):
        line = f"{round(time_s * 1000):>9d} ms  {source:<10} {event}"
        lines.append(f"{line}  | {detail}" if detail else line)
    return lines


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_narrative_matches_the_golden_file(case):
    result = simulate(scenario_from_dict(CASES[case]), seed=1)
    got = narrative(result)
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(got) + "\n", encoding="utf-8")
    if not path.exists():
        pytest.fail(f"no golden file {path.name} (BLUEGREEN_UPDATE_NARRATIVE=1 writes it)")
    want = path.read_text(encoding="utf-8").splitlines()
    if got != want:
        diff = difflib.unified_diff(want, got, f"golden/{case}.txt", "this run", lineterm="")
        pytest.fail(
            f"the narrative of {case} changed (BLUEGREEN_UPDATE_NARRATIVE=1 regenerates it):\n"
            + "\n".join(diff),
            pytrace=False,
        )

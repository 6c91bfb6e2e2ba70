"""bluegreen-sim: a discrete-event simulator of blue/green traffic shifting on AWS.

The public API::

    from bluegreen_sim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/canary-bad-green.yaml"), seed=1)
    result.summary, result.timeline, result.events, result.plot()
"""

from .cloudwatch import evaluate_alarm
from .results import Result
from .scenario import Scenario, ScenarioError, load_scenario
from .simulation import simulate

__version__ = "0.1.0"

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "evaluate_alarm",
    "load_scenario",
    "simulate",
]

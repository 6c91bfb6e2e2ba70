"""bluegreen-sim: a discrete-event simulator of blue/green traffic shifting on AWS.

The public API::

    from bluegreen_sim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/canary-bad-green.yaml"), seed=1)
    result.summary, result.timeline, result.events, result.plot()

``compare`` runs variants over the same seeds; ``sweep`` runs grids × replications on
serial, process or Dask backends; ``evaluate_alarm`` is CloudWatch's evaluation rule alone;
``calibrate`` fits the workload to the user's ALB access logs and CloudWatch exports.
"""

from .cloudwatch import evaluate_alarm
from .compare import compare
from .interop.logs import calibrate
from .results import Result
from .scenario import Scenario, ScenarioError, load_scenario
from .simulation import simulate
from .sweep import sweep

__version__ = "0.1.0"

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "calibrate",
    "compare",
    "evaluate_alarm",
    "load_scenario",
    "simulate",
    "sweep",
]

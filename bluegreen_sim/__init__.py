"""bluegreen-sim: a discrete-event simulator of blue/green traffic shifting on AWS.

The public API::

    from bluegreen_sim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/canary-bad-green.yaml"), seed=1)
    result.summary, result.timeline, result.events, result.plot()

``compare`` runs variants over the same seeds; ``sweep`` runs grids × replications on
serial, process or Dask backends; ``evaluate_alarm`` is CloudWatch's evaluation rule alone;
``calibrate`` fits the workload to the user's ALB access logs and CloudWatch exports;
``import_aws`` reads the user's deployment definitions; ``advise`` recommends a setup.

The package's folders are its architecture: ``scenario`` (the input), ``aws`` (the control
plane as AWS names it), ``engine`` (the world and the data plane), ``results`` (one run),
``analysis`` (many runs), ``interop`` (the user's AWS files) and ``cli``.
"""

from .analysis.compare import compare
from .analysis.sweep import sweep
from .aws.cloudwatch import evaluate_alarm
from .engine.simulation import simulate
from .interop import import_aws
from .interop.logs import calibrate
from .results import Result
from .scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"


def __getattr__(name: str):
    # advise brings SciPy's statistics (about 1.5 s and 50 MB): imported on first use, so a
    # plain `import bluegreen_sim` (every sweep worker's) stays light.
    if name == "advise":
        from .analysis.advise import advise

        return advise
    raise AttributeError(f"module 'bluegreen_sim' has no attribute {name!r}")


__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "advise",
    "calibrate",
    "compare",
    "evaluate_alarm",
    "import_aws",
    "load_scenario",
    "simulate",
    "sweep",
]

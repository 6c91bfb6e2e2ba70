"""Workload calibration from the user's logs: ALB access logs and CloudWatch exports in, a
workload fragment (load, service latency, error rate, tasks) and a report with evidence out.

::

    from bluegreen_sim import calibrate
    workload, report = calibrate(["AWSLogs/"], out="workload.yaml", check=True)
    print(report)

Modules: ``files`` (which files are logs, of which kind), ``accesslog`` (chunked parsing),
``cloudwatch_export`` (JSON exports), ``fit`` (derivations), ``report``, ``calibrate`` (the
pipeline), ``workload`` (writing it), ``check`` (simulated against observed), ``synthetic``
(logs with known parameters), ``cli``.
"""

from .calibrate import calibrate
from .errors import CalibrationError
from .report import CalibrationReport

__all__ = ["CalibrationError", "CalibrationReport", "calibrate"]

"""The user's AWS: importers and exporters of deployment definitions, and calibration of the
workload from their logs (``logs``).

May import ``scenario`` and the public API, never imported by the model or engine. The flow:
``detect`` reads each file by its content into a :class:`~.model.Definitions` (``cfn``,
``terraform``, ``appspec``, or ``live`` for an account), ``mapping`` turns the definitions into a
scenario dict and an :class:`~.report.ImportReport`, and ``export`` writes a scenario's
deployment settings back as snippets.
"""

from .importer import import_aws

__all__ = ["import_aws"]

"""The user's AWS: importers and exporters of deployment definitions, and workload calibration
from their logs; may import scenario and the public API, never imported by the model or engine."""

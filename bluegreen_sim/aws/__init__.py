"""The control plane as AWS names it: ALB, Fargate, CloudWatch, faults and the controllers.

SimPy processes that read like the AWS documentation. Imports only :mod:`bluegreen_sim.scenario`
and :mod:`bluegreen_sim.engine`; never results, analysis, interop or the CLI.
"""

"""Deployment controllers: each is a SimPy process that walks its AWS lifecycle."""

from __future__ import annotations

from .base import Deployment, DeploymentRecord, NoDeployment
from .codedeploy import CodeDeployDeployment
from .ecs import EcsDeployment
from .steps import StepsDeployment

CONTROLLERS: dict[str, type[Deployment]] = {
    "none": NoDeployment,
    "steps": StepsDeployment,
    "codedeploy": CodeDeployDeployment,
    "ecs": EcsDeployment,
}

__all__ = [
    "CONTROLLERS",
    "CodeDeployDeployment",
    "Deployment",
    "DeploymentRecord",
    "EcsDeployment",
    "NoDeployment",
    "StepsDeployment",
]

"""Deployment controllers: each is a SimPy process that walks its AWS lifecycle."""

from __future__ import annotations

from .base import Deployment, DeploymentRecord, NoDeployment
from .steps import StepsDeployment

CONTROLLERS: dict[str, type[Deployment]] = {
    "none": NoDeployment,
    "steps": StepsDeployment,
}


def register(name: str, cls: type[Deployment]) -> None:
    """Make a controller available under ``deployment.controller: name``."""
    CONTROLLERS[name] = cls


def _load_optional() -> None:
    # CodeDeploy and ECS live in their own modules; import them when present.
    try:
        from .codedeploy import CodeDeployDeployment

        CONTROLLERS["codedeploy"] = CodeDeployDeployment
    except ImportError:
        pass
    try:
        from .ecs import EcsDeployment

        CONTROLLERS["ecs"] = EcsDeployment
    except ImportError:
        pass


_load_optional()

__all__ = ["CONTROLLERS", "Deployment", "DeploymentRecord", "NoDeployment", "register"]

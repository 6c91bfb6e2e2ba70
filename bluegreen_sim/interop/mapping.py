"""From the user's AWS resources to a scenario: which setting becomes which field, and why.

One deployment per scenario: a CodeDeploy deployment group (or the CloudFormation
``AWS::CodeDeploy::BlueGreen`` hook, or an AppSpec alone), or an ECS service with a native
blue/green, linear or canary strategy or a rolling update (AWS's default). Its target groups
give the health checks and target group attributes, its alarms the CloudWatch alarms, its task
definition the task size and stop timeout. Every value taken is recorded in the report with its
origin; every value assumed, with the reason.
"""

from __future__ import annotations

from ..scenario import ScenarioError
from . import alarms as alarm_mapping
from . import map_lb
from .map_codedeploy import codedeploy
from .map_ecs import ecs
from .mapper import Mapper
from .model import Definitions, Resource
from .report import ImportReport

ECS_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
ECS_ALL_STRATEGIES = ("ROLLING",) + ECS_STRATEGIES


def to_scenario(defs: Definitions, report: ImportReport, service: str | None = None) -> dict:
    """The scenario dict for ``defs``; :class:`ScenarioError` when there is no deployment."""
    m = Mapper(defs, report)
    m.note_defs()
    svc = _pick_service(defs, service)
    hook = next(iter(defs.of("bluegreen_hook")), None)
    groups = defs.of("deployment_group")
    group = _pick_group(groups, svc, defs)
    if svc is None and group is not None:
        svc = defs.find("service", group.fields.get("service"))
    appspec = next(iter(defs.of("appspec")), None)
    controller = _controller(defs, svc, group, hook, appspec)
    m.put("name", _name(group, svc, hook, defs))
    m.put("description", "Imported by 'bluegreen-sim import' from " + ", ".join(defs.files))
    m.put("deployment.controller", controller)
    report.map("deployment.controller", controller, _controller_origin(svc, group, hook, appspec))
    if controller == "codedeploy":
        codedeploy(m, group, hook, appspec)
    else:
        ecs(m, svc)
    blue_tg, green_tg = map_lb.target_groups(m, group, svc, hook)
    map_lb.load_balancer(m, blue_tg, green_tg, group, svc, hook)
    map_lb.tasks(m, svc)
    attached = map_lb.attached_alarms(m, group, svc, controller)
    alarm_mapping.map_alarms(m, attached, blue_tg, green_tg, controller)
    map_lb.others(m, svc)
    return m.out


# --------------------------------------------------------------------------------------------
# Which deployment


def _pick_service(defs: Definitions, wanted: str | None) -> Resource | None:
    services = defs.of("service")
    if wanted is not None:
        found = defs.find("service", wanted)
        if found is None:
            names = ", ".join(sorted(r.id for r in services)) or "none"
            raise ScenarioError(
                "import", "--service", f"no ECS service {wanted!r} in the files (found: {names})"
            )
        return found
    shifting = [s for s in services if _shifts_traffic(s)]
    if len(shifting) > 1:
        for s in shifting[1:]:
            defs.note(
                "ignored",
                s.origin,
                f"another service with a deployment; import it with --service {s.id}",
            )
    return shifting[0] if shifting else (services[0] if services else None)


def _shifts_traffic(svc: Resource) -> bool:
    controller = str(svc.get("controller", "ECS")).upper()
    strategy = str(svc.get("strategy", "ROLLING")).upper()
    return controller in ("CODE_DEPLOY", "EXTERNAL") or strategy in ECS_STRATEGIES


def _pick_group(groups: list[Resource], svc: Resource | None, defs: Definitions):
    if not groups:
        return None
    if svc is not None:
        for g in groups:
            if defs.find("service", g.fields.get("service")) is svc:
                return g
    for g in groups[1:]:
        defs.note("ignored", g.origin, "another deployment group; one deployment per scenario")
    return groups[0]


def _controller(defs, svc, group, hook, appspec) -> str:
    if hook is not None or group is not None or appspec is not None:
        if group is not None and str(group.get("style_type", "BLUE_GREEN")).upper() == "IN_PLACE":
            raise ScenarioError(
                group.origin.split(":")[0],
                group.id,
                "an IN_PLACE (EC2/on-premises) deployment group; expected an ECS blue/green group",
            )
        return "codedeploy"
    if defs.of("deployment_config") and svc is None:
        return "codedeploy"
    if svc is None:
        raise ScenarioError(
            ", ".join(defs.files) or "import",
            None,
            "no deployment found: expected an AWS::CodeDeploy::DeploymentGroup (or "
            "aws_codedeploy_deployment_group), an ECS service (aws_ecs_service), an "
            "AWS::CodeDeploy::BlueGreen hook, or an AppSpec",
        )
    controller = svc.get("controller", "ECS")
    controller = str(controller).upper() if isinstance(controller, str) else "ECS"
    if controller == "CODE_DEPLOY":
        return "codedeploy"
    if controller == "EXTERNAL":
        raise ScenarioError(
            svc.origin.split(":")[0],
            svc.id,
            "deployment controller EXTERNAL without an AWS::CodeDeploy::BlueGreen hook: the task "
            "sets are shifted by something outside the files",
        )
    strategy = svc.get("strategy", "ROLLING")
    if isinstance(strategy, str) and strategy.upper() not in ECS_ALL_STRATEGIES:
        raise ScenarioError(
            svc.origin.split(":")[0],
            svc.id,
            f"DeploymentConfiguration.Strategy {strategy!r}: expected one of "
            + ", ".join(ECS_ALL_STRATEGIES),
        )
    return "ecs"


def _controller_origin(svc, group, hook, appspec) -> str:
    for r in (hook, group, appspec, svc):
        if r is not None:
            return r.origin
    return "the deployment config"


def _name(group, svc, hook, defs) -> str:
    for r in (group, svc):
        if r is not None and isinstance(r.get("name"), str) and r.get("name").strip():
            return r.get("name")[:100]
    for r in (group, svc, hook):
        if r is not None:
            return r.id[:100]
    return "imported"

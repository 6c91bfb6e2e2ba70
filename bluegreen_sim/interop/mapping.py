"""From the user's AWS resources to a scenario: which setting becomes which field, and why.

One deployment per scenario: a CodeDeploy deployment group (or the CloudFormation
``AWS::CodeDeploy::BlueGreen`` hook, or an AppSpec alone), or an ECS service with a native
blue/green, linear or canary strategy. Its target groups give the health checks and target
group attributes, its alarms the CloudWatch alarms, its task definition the task size. Every
value taken is recorded in the report with its origin; every value assumed, with the reason.
"""

from __future__ import annotations

import re
from typing import Any

from ..scenario import CODEDEPLOY_CONFIGS, CODEDEPLOY_HOOKS, ECS_HOOK_STAGES, ScenarioError
from . import alarms as alarm_mapping
from .model import Definitions, Ref, Resource, Unresolved, V
from .report import ImportReport

NETWORK_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")
ECS_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
_CONFIG_NAME = re.compile(
    r"(?i)(?:canary(\d+)percent(\d+)minutes?|linear(\d+)percentevery(\d+)minutes?|allatonce)"
)


def as_number(value: Any) -> float | int:
    """A number from a number or a numeric string (CloudFormation passes both)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        f = float(value.strip())
        return int(f) if f.is_integer() else f
    raise ValueError(f"expected a number, got {value!r}")


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def as_str(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


class Mapper:
    """Builds the scenario dict, writing each decision into the report."""

    def __init__(self, defs: Definitions, report: ImportReport):
        self.defs, self.report = defs, report
        self.out: dict[str, Any] = {}

    # -- recording ----------------------------------------------------------------------------

    def put(self, path: str, value: Any) -> None:
        node = self.out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def why(self, res: Resource | None, field: str, text: str) -> str:
        """Why ``res.field`` was not used: its unresolved reason if it has one, else ``text``."""
        v = res.fields.get(field) if res is not None else None
        if v is not None and isinstance(v.value, Unresolved):
            return f"{v.origin} is {v.value.reason}; {text.split(':', 1)[-1].strip()}"
        return text

    def take(
        self,
        res: Resource | None,
        field: str,
        path: str | None,
        convert: Any = as_number,
        default: Any = None,
        why: str = "",
    ) -> Any:
        """The converted value of ``res.field`` written at ``path`` (if given), or ``None``
        (and the default recorded, if one is given) when missing or unresolved."""
        v = res.fields.get(field) if res is not None else None
        if v is None or isinstance(v.value, Unresolved | Ref):
            if v is not None:
                reason = v.value.reason if isinstance(v.value, Unresolved) else "a resource"
                why = f"{v.origin} is {reason}" + (f"; {why}" if why else "")
            if path is not None and default is not None:
                self.report.default(path, default, why or "not in the files")
            return None
        try:
            value = convert(v.value)
        except (TypeError, ValueError) as exc:
            self.report.looks_wrong(v.origin, str(exc))
            if path is not None and default is not None:
                self.report.default(path, default, f"{v.origin} could not be read")
            return None
        if path is not None:
            self.put(path, value)
            self.report.map(path, value, v.origin)
        return value

    def note_defs(self) -> None:
        for n in self.defs.notes:
            if n.kind == "wrong":
                self.report.looks_wrong(n.where, n.text)
            elif n.kind == "ignored":
                self.report.ignore(n.where, n.text)
            else:
                self.report.default(n.where, None, n.text)


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
        _codedeploy(m, group, hook, appspec)
    else:
        _ecs(m, svc)
    blue_tg, green_tg = _target_groups(m, group, svc, hook)
    _load_balancer(m, blue_tg, green_tg, group, svc, hook)
    _tasks(m, svc)
    attached = _attached_alarms(m, group, svc, controller)
    alarm_mapping.map_alarms(m, attached, blue_tg, green_tg, controller)
    _others(m, svc)
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
            "aws_codedeploy_deployment_group), an ECS service with a BLUE_GREEN, LINEAR or "
            "CANARY strategy, an AWS::CodeDeploy::BlueGreen hook, or an AppSpec",
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
    if not isinstance(strategy, str) or strategy.upper() not in ECS_STRATEGIES:
        raise ScenarioError(
            svc.origin.split(":")[0],
            svc.id,
            f"the ECS service deploys by rolling update (Strategy {strategy}); the simulator "
            "models traffic shifting: expected Strategy BLUE_GREEN, LINEAR or CANARY, or "
            "controller CODE_DEPLOY with a deployment group",
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


# --------------------------------------------------------------------------------------------
# CodeDeploy


def _codedeploy(m: Mapper, group: Resource | None, hook: Resource | None, appspec) -> None:
    if hook is not None:
        _bluegreen_hook(m, hook)
    else:
        _deployment_config(m, group)
    if group is None and hook is not None:
        m.put("deployment.auto_rollback", ["DEPLOYMENT_FAILURE"])
        m.report.map(
            "deployment.auto_rollback",
            ["DEPLOYMENT_FAILURE"],
            f"{hook.origin}: a failed blue/green stack update rolls the stack back",
        )
    elif group is None:
        why = "no deployment group in the files"
        m.report.default(
            "deployment.termination_wait", "60m", why + "; the ECS console's default (1 hour)"
        )
        m.report.default(
            "deployment.auto_rollback", [], why + "; AWS's default is no automatic rollback"
        )
    else:
        _group_settings(m, group)
    hooks = {}
    sources = []
    if hook is not None and isinstance(hook.get("hooks"), dict):
        hooks.update(hook.get("hooks"))
        sources.append(hook.fields["hooks"].origin)
    if appspec is not None and isinstance(appspec.get("hooks"), dict):
        hooks.update(appspec.get("hooks"))
        sources.append(appspec.fields["hooks"].origin)
    for name, fn in hooks.items():
        if name not in CODEDEPLOY_HOOKS:
            m.report.looks_wrong(
                f"{sources[-1]}.{name}",
                f"not an ECS lifecycle hook (expected one of {', '.join(CODEDEPLOY_HOOKS)})",
            )
            continue
        path = f"deployment.hooks.{name}"
        m.put(path, {"kind": "lambda"})
        m.report.map(path, fn if isinstance(fn, str) else str(fn), sources[-1])
        m.report.default(
            path + ".outcome",
            "Succeeded",
            f"what Lambda {fn} decides is not in the files: "
            "assumed to succeed in 5s (set outcome, failure_probability, or kind: probe)",
        )


def _bluegreen_hook(m: Mapper, hook: Resource) -> None:
    kind = m.take(hook, "routing_type", None, as_str)
    if kind is None:
        kind = "TimeBasedCanary"
        m.report.default(
            "deployment.config",
            "TimeBasedCanary 15% / 5 min",
            "the hook gives no TrafficRoutingConfig: CloudFormation's default",
        )
    if kind == "AllAtOnce":
        m.put("deployment.config", {"type": "AllAtOnce"})
        m.report.map("deployment.config.type", kind, hook.fields["routing_type"].origin)
        return
    if kind not in ("TimeBasedCanary", "TimeBasedLinear"):
        raise ScenarioError(
            hook.origin,
            "TrafficRoutingConfig.Type",
            f"expected AllAtOnce, TimeBasedCanary or TimeBasedLinear, got {kind!r}",
        )
    m.put("deployment.config.type", kind)
    pct = m.take(
        hook,
        "percentage",
        "deployment.config.percentage",
        default=15,
        why="CloudFormation's default step",
    )
    if pct is None:
        m.put("deployment.config.percentage", 15)
    elif pct < 14:
        m.report.looks_wrong(
            hook.fields["percentage"].origin,
            f"StepPercentage {pct}: CloudFormation requires 14 or more",
        )
    minutes = m.take(hook, "interval_min", None, default=5)
    if minutes is None:
        minutes = 5
        m.report.default("deployment.config.interval", "5m", "CloudFormation's default bake")
    else:
        m.report.map(
            "deployment.config.interval", f"{minutes}m", hook.fields["interval_min"].origin
        )
    m.put("deployment.config.interval", f"{minutes}m")
    wait = m.take(hook, "termination_wait_min", None)
    if wait is not None:
        m.put("deployment.termination_wait", f"{wait}m")
        m.report.map(
            "deployment.termination_wait", f"{wait}m", hook.fields["termination_wait_min"].origin
        )
    else:
        m.report.default(
            "deployment.termination_wait",
            "60m",
            "AdditionalOptions gives no "
            "TerminationWaitTimeInMinutes: the scenario default (1 hour)",
        )


def _deployment_config(m: Mapper, group: Resource | None) -> None:
    defs = m.defs
    v = group.fields.get("deployment_config_name") if group is not None else None
    config_res = None
    if v is not None and isinstance(v.value, Ref | str):
        config_res = defs.find("deployment_config", v.value)
    if config_res is None and v is None and defs.of("deployment_config"):
        config_res = defs.of("deployment_config")[0]
    if config_res is not None:
        _custom_config(m, config_res)
        return
    name = v.value if v is not None else None
    if isinstance(name, str) and name in CODEDEPLOY_CONFIGS:
        m.put("deployment.config", name)
        m.report.map("deployment.config", name, v.origin)
        return
    if isinstance(name, str):
        fixed = next(
            (
                c
                for c in CODEDEPLOY_CONFIGS
                if c.lower() == name.lower().rstrip("s")
                or c.lower().rstrip("s") == name.lower().rstrip("s")
            ),
            None,
        )
        if fixed is not None:
            m.put("deployment.config", fixed)
            m.report.map("deployment.config", fixed, v.origin)
            m.report.looks_wrong(v.origin, f"{name!r} is spelled {fixed!r} by AWS")
            return
        if name.startswith("CodeDeployDefault."):
            raise ScenarioError(
                v.origin.split(" (line")[0],
                None,
                f"{name} is not an ECS deployment configuration; expected one of "
                + ", ".join(CODEDEPLOY_CONFIGS),
            )
    why = (
        "the deployment group names no DeploymentConfigName: CodeDeploy's default for ECS "
        "(console and CDK)"
        if v is None
        else f"{v.origin}: custom config {name if isinstance(name, str) else v.value} is not "
        "defined in the files (pass its definition)"
    )
    m.put("deployment.config", "CodeDeployDefault.ECSAllAtOnce")
    m.report.default("deployment.config", "CodeDeployDefault.ECSAllAtOnce", why)


def _custom_config(m: Mapper, res: Resource) -> None:
    platform = res.get("compute_platform")
    if isinstance(platform, str) and platform.upper() != "ECS":
        m.report.looks_wrong(
            res.fields["compute_platform"].origin,
            f"ComputePlatform {platform}: an ECS deployment needs ECS",
        )
    kind = m.take(res, "routing_type", None, as_str)
    if kind is None:
        raise ScenarioError(
            res.origin,
            "TrafficRoutingConfig",
            "an ECS deployment config needs TrafficRoutingConfig.Type",
        )
    origin = res.fields["routing_type"].origin
    if kind == "AllAtOnce":
        m.put("deployment.config", {"type": "AllAtOnce"})
        m.report.map("deployment.config.type", kind, origin)
        return
    m.put("deployment.config.type", kind)
    m.report.map("deployment.config.type", kind, origin)
    pct = m.take(res, "percentage", "deployment.config.percentage")
    minutes = m.take(res, "interval_min", None)
    if pct is None or minutes is None:
        raise ScenarioError(
            res.origin, "TrafficRoutingConfig", f"{kind} needs its percentage and interval"
        )
    m.put("deployment.config.interval", f"{minutes}m")
    m.report.map("deployment.config.interval", f"{minutes}m", res.fields["interval_min"].origin)
    name = res.get("name")
    if isinstance(name, str):
        _check_config_name(m, name, kind, pct, minutes, res.fields["name"].origin)


def _check_config_name(m: Mapper, name: str, kind: str, pct: Any, minutes: Any, origin: str):
    match = _CONFIG_NAME.search(name)
    if not match:
        return
    if match.group(1) and (
        kind != "TimeBasedCanary" or (int(match.group(1)), int(match.group(2))) != (pct, minutes)
    ):
        said = f"canary {match.group(1)}% for {match.group(2)} min"
    elif match.group(3) and (
        kind != "TimeBasedLinear" or (int(match.group(3)), int(match.group(4))) != (pct, minutes)
    ):
        said = f"linear {match.group(3)}% every {match.group(4)} min"
    elif not match.group(1) and not match.group(3) and kind != "AllAtOnce":
        said = "all at once"
    else:
        return
    m.report.looks_wrong(
        origin,
        f"the name {name!r} says {said}, the values say {kind} "
        f"{pct}% / {minutes} min (the values are used)",
    )


def _group_settings(m: Mapper, g: Resource) -> None:
    action = m.take(g, "termination_action", None, as_str)
    if action == "KEEP_ALIVE":
        m.put("deployment.termination_wait", "2880m")
        m.report.map("deployment.termination_wait", "2880m", g.fields["termination_action"].origin)
        m.report.default(
            "deployment.termination_wait",
            "2880m",
            "KEEP_ALIVE keeps blue: modelled as the longest wait AWS allows (2 days)",
        )
    else:
        wait = m.take(g, "termination_wait_min", None)
        if wait is None:
            m.report.default(
                "deployment.termination_wait",
                "60m",
                m.why(
                    g,
                    "termination_wait_min",
                    "no TerminationWaitTimeInMinutes: the ECS console's default (1 hour)",
                ),
            )
        else:
            m.put("deployment.termination_wait", f"{wait}m")
            m.report.map(
                "deployment.termination_wait", f"{wait}m", g.fields["termination_wait_min"].origin
            )
    ready = m.take(g, "ready_action", "deployment.ready_wait.action_on_timeout", as_str)
    if ready is not None:
        wait = m.take(g, "ready_wait_min", None)
        if wait is not None:
            m.put("deployment.ready_wait.wait", f"{wait}m")
            m.report.map(
                "deployment.ready_wait.wait", f"{wait}m", g.fields["ready_wait_min"].origin
            )
        if ready == "STOP_DEPLOYMENT":
            m.report.default(
                "deployment.ready_wait.continue_at",
                None,
                "nobody continues the "
                "deployment in the simulation: it stops when the wait ends (set "
                "deployment.ready_wait.continue_at)",
            )
    enabled = m.take(g, "auto_rollback_enabled", None, as_bool)
    events = g.get("auto_rollback_events") or []
    if enabled is None:
        m.report.default(
            "deployment.auto_rollback",
            [],
            "no AutoRollbackConfiguration: AWS does not roll back automatically",
        )
        events = []
    elif not enabled:
        events = []
    kept = [e for e in events if e in ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")]
    if "DEPLOYMENT_STOP_ON_REQUEST" in events:
        m.report.ignore(
            g.fields["auto_rollback_events"].origin,
            "DEPLOYMENT_STOP_ON_REQUEST: nobody stops a simulated deployment by hand",
        )
    for e in events:
        if e not in kept and e != "DEPLOYMENT_STOP_ON_REQUEST":
            m.report.looks_wrong(
                g.fields["auto_rollback_events"].origin, f"{e!r} is not an AutoRollbackEvent"
            )
    m.put("deployment.auto_rollback", kept)
    if enabled is not None:
        m.report.map("deployment.auto_rollback", kept, g.fields["auto_rollback_enabled"].origin)
    if g.get("test_listeners"):
        m.put("load_balancer.test_listener", True)
        m.report.map("load_balancer.test_listener", True, g.fields["test_listeners"].origin)
    if g.has("ignore_poll_alarm_failure"):
        m.report.ignore(
            g.fields["ignore_poll_alarm_failure"].origin,
            "alarm polling never fails in the simulation",
        )


# --------------------------------------------------------------------------------------------
# ECS native


def _ecs(m: Mapper, s: Resource) -> None:
    strategy = m.take(s, "strategy", "deployment.strategy", lambda v: as_str(v).upper())
    bake = m.take(s, "bake_time_min", None)
    if bake is None:
        m.report.default(
            "deployment.bake_time",
            "15m",
            m.why(s, "bake_time_min", "no BakeTimeInMinutes: AWS's default"),
        )
    else:
        m.put("deployment.bake_time", f"{bake}m")
        m.report.map("deployment.bake_time", f"{bake}m", s.fields["bake_time_min"].origin)
    if strategy == "LINEAR":
        m.take(
            s,
            "linear_step_percent",
            "deployment.linear.step_percent",
            default=10.0,
            why="no StepPercent: the scenario default",
        )
        _minutes(m, s, "linear_bake_min", "deployment.linear.step_bake_time", "6m")
    if strategy == "CANARY":
        m.take(
            s,
            "canary_percent",
            "deployment.canary.canary_percent",
            default=5.0,
            why="no CanaryPercent: the scenario default",
        )
        _minutes(m, s, "canary_bake_min", "deployment.canary.canary_bake_time", "10m")
    if s.has("cb_enable"):
        m.take(s, "cb_enable", "deployment.circuit_breaker.enable", as_bool)
        m.take(s, "cb_rollback", "deployment.circuit_breaker.rollback", as_bool)
        m.take(s, "cb_reset", "deployment.circuit_breaker.reset_on_healthy_task", as_bool)
        m.take(s, "cb_threshold_type", "deployment.circuit_breaker.threshold.type", as_str)
        m.take(s, "cb_threshold_value", "deployment.circuit_breaker.threshold.value")
    else:
        m.put("deployment.circuit_breaker.enable", False)
        m.report.default(
            "deployment.circuit_breaker.enable",
            False,
            "no DeploymentCircuitBreaker: AWS leaves it off",
        )
    if s.has("alarms_rollback"):
        m.take(s, "alarms_rollback", "deployment.alarm_rollback", as_bool)
    if s.get("test_listener_rule") is not None:
        m.put("load_balancer.test_listener", True)
        m.report.map("load_balancer.test_listener", True, s.fields["test_listener_rule"].origin)
    for hook in s.get("hooks") or []:
        _ecs_hook(m, hook)


def _minutes(m: Mapper, res: Resource, field: str, path: str, default: str) -> None:
    value = m.take(res, field, None)
    if value is None:
        m.report.default(
            path, default, m.why(res, field, f"no {field.replace('_', ' ')}: the scenario default")
        )
    else:
        m.put(path, f"{value}m")
        m.report.map(path, f"{value}m", res.fields[field].origin)


def _ecs_hook(m: Mapper, hook: dict) -> None:
    target = str(hook.get("target_type") or "AWS_LAMBDA").upper()
    kind = "pause" if target == "PAUSE" else "lambda"
    stages = hook.get("stages") if isinstance(hook.get("stages"), list) else []
    for stage in stages:
        where = hook["where"]
        if stage not in ECS_HOOK_STAGES:
            m.report.looks_wrong(where, f"{stage!r} is not an ECS lifecycle stage")
            continue
        if kind == "pause" and stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
            m.report.looks_wrong(where, f"{stage} accepts only Lambda hooks (AWS rule); skipped")
            continue
        spec: dict[str, Any] = {"kind": kind}
        try:
            if hook.get("timeout_min") is not None:
                spec["timeout"] = f"{as_number(hook['timeout_min'])}m"
        except ValueError as exc:
            m.report.looks_wrong(where, str(exc))
        if hook.get("action") in ("ROLLBACK", "CONTINUE"):
            spec["timeout_action"] = hook["action"]
        path = f"deployment.hooks.{stage}"
        m.put(path, spec)
        m.report.map(path, spec, where)
        if kind == "pause":
            m.report.default(
                path + ".continue_after",
                None,
                "nobody continues a PAUSE hook in "
                "the simulation: its timeout decides (set continue_after)",
            )
        else:
            m.report.default(
                path + ".outcome",
                "Succeeded",
                "what the Lambda decides is not in the files: assumed to succeed in 5s",
            )


# --------------------------------------------------------------------------------------------
# Load balancer, tasks, alarms attached


def _target_groups(m: Mapper, group, svc, hook) -> tuple[Resource | None, Resource | None]:
    defs = m.defs
    refs: list[Any] = []
    for r, field in ((group, "target_groups"), (hook, "target_groups")):
        if r is not None and isinstance(r.get(field), list):
            refs = list(r.get(field))
            break
    if not refs and svc is not None:
        refs = [svc.get("target_group"), svc.get("alternate_target_group")]
    found = [defs.find("target_group", x) for x in refs[:2]]
    while len(found) < 2:
        found.append(None)
    tgs = defs.of("target_group")
    if found[0] is None and len(tgs) in (1, 2) and not any(found):
        found = (tgs + [None])[:2]
        m.report.default(
            "load_balancer.health_check",
            tgs[0].id,
            "the deployment names no target group the files define: the only "
            "target group(s) of the files are used",
        )
    return found[0], found[1]


HC_FIELDS = (
    ("hc_enabled", "enabled", as_bool),
    ("hc_interval", "interval", as_number),
    ("hc_timeout", "timeout", as_number),
    ("hc_healthy", "healthy_threshold", as_number),
    ("hc_unhealthy", "unhealthy_threshold", as_number),
)
ATTRS = {
    "deregistration_delay.timeout_seconds": ("deregistration_delay", as_number),
    "slow_start.duration_seconds": ("slow_start", as_number),
    "load_balancing.algorithm.type": ("routing", as_str),
}


def _load_balancer(m: Mapper, blue, green, group, svc, hook) -> None:
    if blue is None:
        m.report.default(
            "load_balancer.health_check",
            "ALB defaults",
            "no target group of the deployment is in the files: ALB's defaults (30s, 5s, 5, 2)",
        )
        return
    for field, name, conv in HC_FIELDS:
        m.take(blue, field, f"load_balancer.health_check.{name}", conv)
    if str(blue.get("protocol", "HTTP")).upper() in NETWORK_PROTOCOLS:
        m.put("load_balancer.type", "network")
        m.report.map("load_balancer.type", "network", blue.fields["protocol"].origin)
    for key, value in blue.fields.items():
        if not key.startswith("attr:"):
            continue
        attr = key[5:]
        if attr in ATTRS:
            name, conv = ATTRS[attr]
            m.take(blue, key, f"load_balancer.{name}", conv)
        elif attr == "stickiness.enabled" and str(value.value).lower() == "true":
            m.report.ignore(
                value.origin,
                "stickiness: no scenario field yet; the simulation "
                "routes each request by the listener's weights",
            )
        elif not attr.startswith("stickiness."):
            m.report.ignore(value.origin, f"{attr}: not about traffic shifting")
    if green is not None:
        differ = [name for field, name, _ in HC_FIELDS if blue.get(field) != green.get(field)]
        differ += [
            k[5:]
            for k in set(blue.fields) | set(green.fields)
            if k.startswith("attr:") and _attr(blue.get(k)) != _attr(green.get(k))
        ]
        if differ:
            m.report.looks_wrong(
                green.origin,
                f"the second target group differs from the first "
                f"in {', '.join(sorted(differ))}; CodeDeploy alternates them, "
                f"so every other deployment behaves differently (first used)",
            )
    for lb in m.defs.of("load_balancer"):
        m.take(lb, "type", "load_balancer.type", lambda v: as_str(v).lower())
        m.take(lb, "idle_timeout", "load_balancer.idle_timeout")
        break
    for lst in m.defs.of("listener") + m.defs.of("listener_rule"):
        forward = lst.get("forward")
        if isinstance(forward, list) and len(forward) == 2 and green is not None:
            weights = {id(m.defs.find("target_group", t)): w for t, w in forward}
            w_green = weights.get(id(green))
            if w_green not in (None, 0, "0"):
                m.report.looks_wrong(
                    lst.fields["forward"].origin,
                    f"the listener already sends "
                    f"weight {w_green} to the second target group; the "
                    "simulation starts with all traffic on blue",
                )
        if lst.get("forward_stickiness") in (True, "true"):
            m.report.ignore(
                lst.fields["forward_stickiness"].origin,
                "target-group stickiness on the weighted forward: no scenario field yet",
            )


def _attr(value: Any) -> str:
    """An attribute's value for comparison: unset reads as AWS's default (off)."""
    text = str(value).lower()
    return "false" if text in ("none", "false", "0") else text


_CPU = {"256": 0.25, "512": 0.5, "1024": 1.0, "2048": 2.0, "4096": 4.0, "8192": 8.0, "16384": 16.0}


def _vcpu(value: Any) -> float:
    text = str(value).strip().lower().replace("vcpu", "").strip()
    if text in _CPU:
        return _CPU[text]
    f = float(text)
    if str(value).lower().endswith("vcpu") or f <= 16:
        return f
    raise ValueError(f"cpu {value!r} is not a Fargate size (256 .. 16384 CPU units)")


def _gb(value: Any) -> float:
    text = str(value).strip().lower()
    if text.endswith("gb"):
        return float(text[:-2])
    return round(float(text) / 1024, 3)


def _tasks(m: Mapper, svc: Resource | None) -> None:
    tasks = m.take(svc, "desired_count", "service.tasks")
    if tasks is None:
        tasks = 10
        m.report.default(
            "service.tasks",
            10,
            m.why(
                svc,
                "desired_count",
                "no DesiredCount: the scenario default (AWS "
                "starts 1 task, too few for the placeholder workload)",
            ),
        )
    m.put("load.rps", 10.0 * tasks)
    m.report.default(
        "load.rps",
        10.0 * tasks,
        "the workload is not in the files: 10 requests/s "
        "per task (the scenario defaults' utilisation), a placeholder",
    )
    td = m.defs.find("task_definition", svc.get("task_definition")) if svc is not None else None
    if td is None and len(m.defs.of("task_definition")) == 1:
        td = m.defs.of("task_definition")[0]
    if td is not None:
        m.take(td, "cpu", "service.cpu", _vcpu)
        m.take(td, "memory", "service.memory", _gb)


def _attached_alarms(m: Mapper, group, svc, controller) -> list[tuple[Any, str]]:
    """(alarm reference, origin) of the alarms the deployment watches."""
    if controller == "codedeploy" and group is not None:
        names = group.get("alarm_names") or []
        enabled = group.get("alarms_enabled", bool(names))
        origin = group.fields["alarm_names"].origin if group.has("alarm_names") else group.origin
    elif controller == "ecs" and svc is not None:
        names = svc.get("alarm_names") or []
        enabled = svc.get("alarms_enable", bool(names))
        origin = svc.fields["alarm_names"].origin if svc.has("alarm_names") else svc.origin
    else:
        return []
    if isinstance(names, Unresolved) or not isinstance(names, list):
        m.report.default(
            "deployment.alarms", [], f"{origin}: the alarm list is not known from the files"
        )
        return []
    if names and str(enabled).lower() == "false":
        m.report.looks_wrong(
            origin, "alarms are listed but not enabled: they cannot stop the deployment"
        )
        return []
    return [(n, origin) for n in names]


def _others(m: Mapper, svc: Resource | None) -> None:
    if svc is not None and svc.has("grace_period"):
        m.report.ignore(
            svc.fields["grace_period"].origin,
            "HealthCheckGracePeriodSeconds: no scenario field yet",
        )
    for field in ("maximum_percent", "minimum_healthy_percent"):
        if svc is not None and svc.has(field):
            m.report.ignore(svc.fields[field].origin, "used by rolling updates only")


def origin_of(value: V | None) -> str:
    return value.origin if value is not None else "(not in the files)"

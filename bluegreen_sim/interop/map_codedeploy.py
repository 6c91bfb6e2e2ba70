"""CodeDeploy's settings: deployment config (named or custom), the deployment group's
blue/green options, the CloudFormation ``AWS::CodeDeploy::BlueGreen`` hook, AppSpec hooks."""

from __future__ import annotations

import re
from typing import Any

from ..scenario import CODEDEPLOY_CONFIGS, CODEDEPLOY_HOOKS, ScenarioError
from .mapper import Mapper, as_bool, as_str
from .model import Ref, Resource

_CONFIG_NAME = re.compile(
    r"(?i)(?:canary(\d+)percent(\d+)minutes?|linear(\d+)percentevery(\d+)minutes?|allatonce)"
)


def codedeploy(m: Mapper, group: Resource | None, hook: Resource | None, appspec) -> None:
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
    if hook.get("test_listeners"):
        m.put("load_balancer.test_listener", True)
        m.report.map("load_balancer.test_listener", True, hook.fields["test_listeners"].origin)
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
    if config_res is None and group is None and defs.of("deployment_config"):
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

"""Resource readers shared by CloudFormation and the AWS API shapes.

A CloudFormation property and its API field differ only in case (``BakeTimeInMinutes`` and
``bakeTimeInMinutes``), so one reader, looking keys up without case, serves templates, CLI
inputs, ``describe-*`` outputs and a live account. Each reader puts the fields the mapping uses
into a :class:`~.model.Resource`, with the path each came from.
"""

from __future__ import annotations

from typing import Any

from .model import Definitions, Ref, Resource


def join(where: str, key: Any) -> str:
    """``where`` extended by ``key``: ``file:`` + ``Key`` is ``file: Key``, else ``a.Key``."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


class N:
    """A mapping read without case; ``where`` is its path, ``raw`` the decoded original (whose
    nodes know their line)."""

    def __init__(self, data: Any, where: str, raw: Any = None):
        self.data = data if isinstance(data, dict) else {}
        self.where, self.raw = where, raw if isinstance(raw, dict) else {}
        self._keys = {str(k).lower().replace("_", ""): k for k in self.data}

    def key(self, name: str) -> str | None:
        return self._keys.get(name.lower().replace("_", ""))

    def origin(self, key: str) -> str:
        # cfn-lint's decoded keys and values carry their position; plain numbers do not.
        node = next((k for k in self.raw if k == key), None)
        mark = getattr(node, "start_mark", None) or getattr(self.raw.get(key), "start_mark", None)
        mark = mark or getattr(self.raw, "start_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        return f"{join(self.where, key)}{line}"

    def get(self, name: str) -> Any:
        k = self.key(name)
        return None if k is None else self.data[k]

    def put(self, res: Resource, field: str, name: str, convert: Any = None) -> None:
        """Copy ``name`` into ``res.fields[field]`` with its origin (if present)."""
        k = self.key(name)
        if k is None or self.data[k] is None:
            return
        value = self.data[k]
        res.set(field, convert(value) if convert else value, self.origin(k))

    def child(self, name: str) -> N:
        k = self.key(name)
        if k is None:
            return N({}, join(self.where, name))
        return N(self.data[k], join(self.where, k), self.raw.get(k))

    def children(self, name: str) -> list[N]:
        k = self.key(name)
        items = self.data.get(k) if k is not None else None
        raws = self.raw.get(k) if k is not None else None
        if not isinstance(items, list):
            return []
        raws = raws if isinstance(raws, list) and len(raws) == len(items) else [None] * len(items)
        pairs = enumerate(zip(items, raws, strict=True))
        return [N(v, f"{join(self.where, k)}[{i}]", r) for i, (v, r) in pairs]

    def __bool__(self) -> bool:
        return bool(self.data)


def _names(items: Any, field: str = "Name") -> list[Any]:
    """Names from ``[{Name: x}]`` or ``["x"]``."""
    if not isinstance(items, list):
        return []
    out = []
    for it in items:
        if isinstance(it, dict):
            n = N(it, "").get(field)
            if n is not None:
                out.append(n)
        else:
            out.append(it)
    return out


def read(res: Resource, values: dict, raw: Any, where: str, defs: Definitions) -> None:
    """Fill ``res`` (its kind already set) from properties ``values``."""
    READERS[res.kind](res, N(values, where, raw), defs)


def deployment_group(r: Resource, p: N, defs: Definitions) -> None:
    p.put(r, "name", "DeploymentGroupName")
    if isinstance(p.get("DeploymentGroupName"), str):
        r.keys.add(p.get("DeploymentGroupName"))
    p.put(r, "deployment_config_name", "DeploymentConfigName")
    style = p.child("DeploymentStyle")
    style.put(r, "style_type", "DeploymentType")
    style.put(r, "style_option", "DeploymentOption")
    bg = p.child("BlueGreenDeploymentConfiguration")
    ready = bg.child("DeploymentReadyOption")
    ready.put(r, "ready_action", "ActionOnTimeout")
    ready.put(r, "ready_wait_min", "WaitTimeInMinutes")
    term = bg.child("TerminateBlueInstancesOnDeploymentSuccess")
    term.put(r, "termination_action", "Action")
    term.put(r, "termination_wait_min", "TerminationWaitTimeInMinutes")
    rb = p.child("AutoRollbackConfiguration")
    rb.put(r, "auto_rollback_enabled", "Enabled")
    rb.put(r, "auto_rollback_events", "Events")
    al = p.child("AlarmConfiguration")
    al.put(r, "alarms_enabled", "Enabled")
    al.put(r, "alarm_names", "Alarms", _names)
    al.put(r, "ignore_poll_alarm_failure", "IgnorePollAlarmFailure")
    services = p.children("ECSServices")
    for s in services[:1]:
        s.put(r, "service", "ServiceName")
        s.put(r, "cluster", "ClusterName")
    pairs = p.child("LoadBalancerInfo").children("TargetGroupPairInfoList")
    for pair in pairs[:1]:
        pair.put(r, "target_groups", "TargetGroups", _names)
        pair.child("ProdTrafficRoute").put(r, "prod_listeners", "ListenerArns")
        pair.child("TestTrafficRoute").put(r, "test_listeners", "ListenerArns")
    if len(pairs) > 1:
        defs.note("wrong", p.where, "more than one TargetGroupPairInfoList entry (AWS allows 1)")


def deployment_config(r: Resource, p: N, defs: Definitions) -> None:
    p.put(r, "name", "DeploymentConfigName")
    if isinstance(p.get("DeploymentConfigName"), str):
        r.keys.add(p.get("DeploymentConfigName"))
    p.put(r, "compute_platform", "ComputePlatform")
    trc = p.child("TrafficRoutingConfig")
    trc.put(r, "routing_type", "Type")
    canary, linear = trc.child("TimeBasedCanary"), trc.child("TimeBasedLinear")
    canary.put(r, "percentage", "CanaryPercentage")
    canary.put(r, "interval_min", "CanaryInterval")
    linear.put(r, "percentage", "LinearPercentage")
    linear.put(r, "interval_min", "LinearInterval")


def service(r: Resource, p: N, defs: Definitions) -> None:
    for key in ("ServiceName", "ServiceArn"):
        if isinstance(p.get(key), str):
            r.keys.add(p.get(key))
    p.put(r, "name", "ServiceName")
    p.put(r, "desired_count", "DesiredCount")
    p.put(r, "task_definition", "TaskDefinition")
    p.put(r, "grace_period", "HealthCheckGracePeriodSeconds")
    p.child("DeploymentController").put(r, "controller", "Type")
    dc = p.child("DeploymentConfiguration")
    dc.put(r, "strategy", "Strategy")
    dc.put(r, "bake_time_min", "BakeTimeInMinutes")
    dc.put(r, "maximum_percent", "MaximumPercent")
    dc.put(r, "minimum_healthy_percent", "MinimumHealthyPercent")
    lin, can = dc.child("LinearConfiguration"), dc.child("CanaryConfiguration")
    lin.put(r, "linear_step_percent", "StepPercent")
    lin.put(r, "linear_bake_min", "StepBakeTimeInMinutes")
    can.put(r, "canary_percent", "CanaryPercent")
    can.put(r, "canary_bake_min", "CanaryBakeTimeInMinutes")
    cb = dc.child("DeploymentCircuitBreaker")
    cb.put(r, "cb_enable", "Enable")
    cb.put(r, "cb_rollback", "Rollback")
    cb.put(r, "cb_reset", "ResetOnHealthyTask")
    th = cb.child("ThresholdConfiguration")
    th.put(r, "cb_threshold_type", "Type")
    th.put(r, "cb_threshold_value", "Value")
    al = dc.child("Alarms")
    al.put(r, "alarm_names", "AlarmNames")
    al.put(r, "alarms_enable", "Enable")
    al.put(r, "alarms_rollback", "Rollback")
    hooks = []
    for h in dc.children("LifecycleHooks"):
        t = h.child("TimeoutConfiguration")
        hooks.append(
            {
                "stages": h.get("LifecycleStages") or [],
                "target_type": h.get("TargetType") or "AWS_LAMBDA",
                "timeout_min": t.get("TimeoutInMinutes"),
                "action": t.get("Action"),
                "where": h.where,
            }
        )
    if hooks:
        r.set("hooks", hooks, dc.origin(dc.key("LifecycleHooks") or "LifecycleHooks"))
    lbs = p.children("LoadBalancers")
    for lb in lbs[:1]:
        lb.put(r, "target_group", "TargetGroupArn")
        lb.put(r, "container_name", "ContainerName")
        adv = lb.child("AdvancedConfiguration")
        adv.put(r, "alternate_target_group", "AlternateTargetGroupArn")
        adv.put(r, "prod_listener_rule", "ProductionListenerRule")
        adv.put(r, "test_listener_rule", "TestListenerRule")
    if len(lbs) > 1:
        defs.note("ignored", p.where + ".LoadBalancers", "only the first load balancer is used")


def task_definition(r: Resource, p: N, defs: Definitions) -> None:
    for key in ("Family", "TaskDefinitionArn"):
        if isinstance(p.get(key), str):
            r.keys.add(p.get(key))
    p.put(r, "cpu", "Cpu")
    p.put(r, "memory", "Memory")
    p.put(r, "requires", "RequiresCompatibilities")
    containers = p.children("ContainerDefinitions")
    if containers:
        r.set(
            "containers",
            [
                {"name": c.get("Name"), "stop_timeout": c.get("StopTimeout"), "where": c.where}
                for c in containers
            ],
            p.origin(p.key("ContainerDefinitions") or "ContainerDefinitions"),
        )


def target_group(r: Resource, p: N, defs: Definitions) -> None:
    for key in ("Name", "TargetGroupName", "TargetGroupArn"):
        if isinstance(p.get(key), str):
            r.keys.add(p.get(key))
    p.put(r, "name", "Name")
    p.put(r, "name", "TargetGroupName")
    p.put(r, "protocol", "Protocol")
    p.put(r, "target_type", "TargetType")
    p.put(r, "hc_enabled", "HealthCheckEnabled")
    p.put(r, "hc_interval", "HealthCheckIntervalSeconds")
    p.put(r, "hc_timeout", "HealthCheckTimeoutSeconds")
    p.put(r, "hc_healthy", "HealthyThresholdCount")
    p.put(r, "hc_unhealthy", "UnhealthyThresholdCount")
    p.put(r, "hc_path", "HealthCheckPath")
    p.put(r, "load_balancers", "LoadBalancerArns")
    for attr in p.children("TargetGroupAttributes") + p.children("Attributes"):
        key, value = attr.get("Key"), attr.get("Value")
        if isinstance(key, str):
            r.set(f"attr:{key}", value, attr.origin(attr.key("Value") or "Value"))


def listener(r: Resource, p: N, defs: Definitions) -> None:
    if isinstance(p.get("ListenerArn"), str):
        r.keys.add(p.get("ListenerArn"))
    p.put(r, "protocol", "Protocol")
    p.put(r, "port", "Port")
    p.put(r, "load_balancer", "LoadBalancerArn")
    _forward(r, p.children("DefaultActions"))


def listener_rule(r: Resource, p: N, defs: Definitions) -> None:
    if isinstance(p.get("RuleArn"), str):
        r.keys.add(p.get("RuleArn"))
    p.put(r, "listener", "ListenerArn")
    p.put(r, "priority", "Priority")
    _forward(r, p.children("Actions"))


def _forward(r: Resource, actions: list[N]) -> None:
    for a in actions:
        if str(a.get("Type")).lower() != "forward":
            continue
        fc = a.child("ForwardConfig")
        tgs = [(t.get("TargetGroupArn"), t.get("Weight")) for t in fc.children("TargetGroups")]
        if not tgs and a.get("TargetGroupArn") is not None:
            tgs = [(a.get("TargetGroupArn"), None)]
        if tgs:
            r.set("forward", tgs, a.where)
        sticky = fc.child("TargetGroupStickinessConfig")
        sticky.put(r, "forward_stickiness", "Enabled")
        sticky.put(r, "forward_stickiness_duration", "DurationSeconds")
        return


def load_balancer(r: Resource, p: N, defs: Definitions) -> None:
    for key in ("Name", "LoadBalancerName", "LoadBalancerArn"):
        if isinstance(p.get(key), str):
            r.keys.add(p.get(key))
    p.put(r, "type", "Type")
    for attr in p.children("LoadBalancerAttributes") + p.children("Attributes"):
        if attr.get("Key") == "idle_timeout.timeout_seconds":
            attr.put(r, "idle_timeout", "Value")


def alarm(r: Resource, p: N, defs: Definitions) -> None:
    for key in ("AlarmName", "AlarmArn"):
        if isinstance(p.get(key), str):
            r.keys.add(p.get(key))
    for field, key in (
        ("name", "AlarmName"),
        ("namespace", "Namespace"),
        ("metric", "MetricName"),
        ("statistic", "Statistic"),
        ("extended_statistic", "ExtendedStatistic"),
        ("period", "Period"),
        ("evaluation_periods", "EvaluationPeriods"),
        ("datapoints_to_alarm", "DatapointsToAlarm"),
        ("threshold", "Threshold"),
        ("comparison", "ComparisonOperator"),
        ("treat_missing_data", "TreatMissingData"),
        ("actions_enabled", "ActionsEnabled"),
    ):
        p.put(r, field, key)
    dims = {d.get("Name"): d.get("Value") for d in p.children("Dimensions")}
    if dims:
        r.set("dimensions", dims, p.origin(p.key("Dimensions") or "Dimensions"))
    metrics = []
    for m in p.children("Metrics"):
        stat = m.child("MetricStat")
        met = stat.child("Metric")
        metrics.append(
            {
                "id": m.get("Id"),
                "expression": m.get("Expression"),
                "return_data": m.get("ReturnData"),
                "metric": met.get("MetricName"),
                "namespace": met.get("Namespace"),
                "stat": stat.get("Stat"),
                "period": stat.get("Period"),
                "dimensions": {d.get("Name"): d.get("Value") for d in met.children("Dimensions")},
            }
        )
    if metrics:
        r.set("metrics", metrics, p.origin(p.key("Metrics") or "Metrics"))


def read_bluegreen_hook(r: Resource, values: dict, raw: Any, where: str, defs: Definitions) -> None:
    """The ``AWS::CodeDeploy::BlueGreen`` hook of the CodeDeployBlueGreen transform."""
    p = N(values, f"{where}.Properties", raw)
    trc = p.child("TrafficRoutingConfig")
    trc.put(r, "routing_type", "Type")
    for block in ("TimeBasedCanary", "TimeBasedLinear"):
        b = trc.child(block)
        b.put(r, "percentage", "StepPercentage")
        b.put(r, "interval_min", "BakeTimeMins")
    p.child("AdditionalOptions").put(r, "termination_wait_min", "TerminationWaitTimeInMinutes")
    hooks = p.child("LifecycleEventHooks")
    if hooks:
        r.set("hooks", dict(hooks.data), hooks.where)
    for app in p.children("Applications")[:1]:
        target = app.child("Target")
        target.put(r, "service", "LogicalID", Ref)
        tr = app.child("ECSAttributes").child("TrafficRouting")
        tr.put(r, "target_groups", "TargetGroups", lambda v: [Ref(x) for x in v])
        tr.child("ProdTrafficRoute").put(r, "prod_listeners", "LogicalID", lambda v: [Ref(v)])
        tr.child("TestTrafficRoute").put(r, "test_listeners", "LogicalID", lambda v: [Ref(v)])


READERS = {
    "deployment_group": deployment_group,
    "deployment_config": deployment_config,
    "service": service,
    "task_definition": task_definition,
    "target_group": target_group,
    "listener": listener,
    "listener_rule": listener_rule,
    "load_balancer": load_balancer,
    "alarm": alarm,
}

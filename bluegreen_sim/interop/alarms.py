"""CloudWatch alarms: which of the user's alarms the simulator can evaluate, and which look wrong.

The simulator publishes the Application Load Balancer's metrics (namespace
``AWS/ApplicationELB``) per target group, so an alarm on one of them, or a metric-math ratio
``100 * A / B`` of two of them, is mapped; an alarm on anything else (ECS CPU, a custom metric) is
reported as ignored. The checks flag what cannot mean what it says: ``Average`` of a count (always
1 on ALB metrics), an error alarm that fires when errors are *low*, a name that names another
metric, an alarm nobody attached to the deployment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..scenario import LB_ONLY_METRICS, METRICS, STATISTICS, TG_ONLY_METRICS
from .model import Ref, Resource, Unresolved

if TYPE_CHECKING:
    from .mapper import Mapper

NAMESPACE = "AWS/ApplicationELB"
COMPARISONS = (
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
_RATIO_FORMS = (
    (
        re.compile(
            r"^\(?\s*(\d+(?:\.\d+)?)\s*\*\s*\(?\s*([A-Za-z]\w*)\s*/\s*([A-Za-z]\w*)\s*\)?\s*\)?$"
        ),
        (1, 2, 3),
    ),
    (
        re.compile(r"^\(?\s*([A-Za-z]\w*)\s*/\s*([A-Za-z]\w*)\s*\)?\s*\*\s*(\d+(?:\.\d+)?)$"),
        (3, 1, 2),
    ),
    (re.compile(r"^\(?\s*([A-Za-z]\w*)\s*/\s*([A-Za-z]\w*)\s*\)?$"), (None, 1, 2)),
)


def normalise_ratio(expression: str) -> str | None:
    """``"(m1/m2)*100"``, ``"100*(a/b)"``, ``"a/b"`` → ``"100 * m1 / m2"``; None otherwise."""
    text = " ".join(str(expression).split())
    for pattern, (f, a, b) in _RATIO_FORMS:
        match = pattern.match(text)
        if match:
            factor = match.group(f) if f else "1"
            return f"{factor} * {match.group(a)} / {match.group(b)}"
    return None


def map_alarms(m: Mapper, attached: list[tuple[Any, str]], blue, green, controller: str) -> None:
    """Write ``alarms`` (every mappable alarm) and ``deployment.alarms`` (the attached ones)."""
    defs = m.defs
    resolved: dict[int, str] = {}
    specs = []
    for res in defs.of("alarm"):
        spec = _alarm(m, res, blue, green)
        if spec is not None and spec["name"] in resolved.values():
            m.report.looks_wrong(
                res.origin,
                f"a second alarm named {spec['name']!r}: AWS "
                "names are unique per account and region; left out",
            )
        elif spec is not None:
            specs.append(spec)
            resolved[id(res)] = spec["name"]
    if specs:
        m.put("alarms", specs)
        for i, (spec, res) in enumerate(
            zip(specs, [r for r in defs.of("alarm") if id(r) in resolved], strict=False)
        ):
            m.report.map(f"alarms.{i}", spec["name"], res.origin)
    chosen: list[str] = []
    for ref, origin in attached:
        res = defs.find("alarm", ref)
        if res is None:
            name = ref.target if isinstance(ref, Ref) else ref
            if isinstance(name, Unresolved):
                why = f"an attached alarm is {name.reason}"
            else:
                why = f"attached alarm {name!r} is not defined in the files (pass its "
                why += "definition or describe-alarms output)"
            m.report.default(
                "deployment.alarms",
                None,
                f"{origin}: {why}; the simulated deployment runs without it",
            )
            continue
        if id(res) not in resolved:
            m.report.ignore(
                res.origin,
                "attached to the deployment but not simulated (see "
                "above); the simulated deployment runs without it",
            )
            continue
        if resolved[id(res)] not in chosen:
            chosen.append(resolved[id(res)])
    if chosen:
        m.put("deployment.alarms", chosen)
        m.report.map("deployment.alarms", chosen, attached[0][1])
    attached_ids = {id(defs.find("alarm", ref)) for ref, _ in attached}
    for res in defs.of("alarm"):
        if id(res) in resolved and id(res) not in attached_ids and controller != "none":
            m.report.looks_wrong(
                res.origin,
                "alarm defined but not attached to the deployment: "
                "it cannot stop or roll back a deployment",
            )


def _alarm(m: Mapper, res: Resource, blue, green) -> dict[str, Any] | None:
    name = res.get("name")
    if not isinstance(name, str) or not name:
        name = res.id
        m.report.default(
            f"alarm {res.id}.name", name, "no AlarmName: AWS generates one; the logical id is used"
        )
    spec: dict[str, Any] = {"name": name[:255]}
    comparison = res.get("comparison", "GreaterThanThreshold")
    if comparison not in COMPARISONS:
        m.report.ignore(
            res.origin, f"comparison {comparison}: anomaly-detection bands are not simulated"
        )
        return None
    metrics = res.get("metrics")
    if isinstance(metrics, list) and metrics:
        if not _math(m, res, spec, metrics, blue, green):
            return None
    else:
        namespace, metric = res.get("namespace"), res.get("metric")
        if namespace != NAMESPACE or metric not in METRICS:
            m.report.ignore(
                res.origin,
                f"alarm on {namespace}/{metric}: the simulator models "
                f"only the ALB metrics {', '.join(METRICS)}",
            )
            return None
        spec["metric"] = metric
        tg = _target_group(m, res, res.get("dimensions") or {}, metric, blue, green)
        if tg is not None:
            spec["target_group"] = tg
        if res.get("extended_statistic") is not None:
            spec["extended_statistic"] = str(res.get("extended_statistic"))
        else:
            stat = res.get("statistic", "Average")
            if stat not in STATISTICS:
                m.report.ignore(res.origin, f"statistic {stat!r} is not one CloudWatch knows")
                return None
            spec["statistic"] = stat
        _check_meaning(m, res, name, metric, spec.get("statistic"), comparison)
    for field, key, conv in (
        ("period", "period", int),
        ("evaluation_periods", "evaluation_periods", int),
        ("datapoints_to_alarm", "datapoints_to_alarm", int),
        ("threshold", "threshold", float),
    ):
        value = res.get(field)
        if value is None or isinstance(value, Unresolved | Ref):
            if isinstance(value, Unresolved):
                m.report.default(f"alarm {name}.{key}", None, value.reason)
            continue
        try:
            spec[key] = conv(float(value))
        except (TypeError, ValueError):
            m.report.looks_wrong(res.fields[field].origin, f"expected a number, got {value!r}")
    if "period" not in spec and "period" in spec.get("_period", {}):
        spec["period"] = spec["_period"]["period"]
    spec.pop("_period", None)
    spec["comparison"] = comparison
    tmd = res.get("treat_missing_data")
    if tmd in ("missing", "notBreaching", "breaching", "ignore"):
        spec["treat_missing_data"] = tmd
    elif tmd is not None:
        m.report.looks_wrong(
            res.fields["treat_missing_data"].origin,
            f"TreatMissingData {tmd!r} is not one AWS knows",
        )
    return spec


def _math(m: Mapper, res: Resource, spec: dict, metrics: list, blue, green) -> bool:
    exprs = [q for q in metrics if q.get("expression")]
    returned = [q for q in exprs if q.get("return_data") not in (False, "false")]
    if len(returned) != 1:
        m.report.ignore(res.origin, "metric math with other than one returned expression")
        return False
    expression = normalise_ratio(returned[0]["expression"])
    if expression is None:
        m.report.ignore(
            res.origin,
            f"metric math {returned[0]['expression']!r}: only a ratio "
            "'factor * A / B' of two ALB metrics is simulated",
        )
        return False
    refs: dict[str, Any] = {}
    periods = set()
    for q in metrics:
        if q.get("expression") or not q.get("id"):
            continue
        if q.get("namespace") != NAMESPACE or q.get("metric") not in METRICS:
            m.report.ignore(
                res.origin,
                f"metric math on {q.get('namespace')}/{q.get('metric')}"
                ": only ALB metrics are simulated",
            )
            return False
        ref: dict[str, Any] = {"metric": q["metric"]}
        tg = _target_group(m, res, q.get("dimensions") or {}, q["metric"], blue, green)
        if tg is not None:
            ref["target_group"] = tg
        stat = q.get("stat") or "Sum"
        if stat not in STATISTICS:
            m.report.ignore(res.origin, f"metric math with statistic {stat!r}")
            return False
        ref["statistic"] = stat
        refs[str(q["id"])] = ref
        if q.get("period") is not None:
            periods.add(int(float(q["period"])))
    spec["expression"] = expression
    spec["metrics"] = refs
    if len(periods) == 1 and res.get("period") is None:
        spec["_period"] = {"period": periods.pop()}
    return True


def _target_group(m: Mapper, res: Resource, dims: dict, metric: str, blue, green) -> str | None:
    if metric in LB_ONLY_METRICS:
        return None
    value = dims.get("TargetGroup")
    if value is None:
        if metric in TG_ONLY_METRICS:
            m.report.default(
                f"alarm {res.id}.target_group",
                "blue",
                f"{metric} needs a TargetGroup dimension; the first target group is assumed",
            )
            return "blue"
        return None
    tg = m.defs.find("target_group", value)
    if tg is None and isinstance(value, str) and value.startswith("targetgroup/"):
        tg = m.defs.find("target_group", value.split("/")[1])
    if tg is not None and tg is green:
        return "green"
    if tg is None or tg is not blue:
        m.report.default(
            f"alarm {res.id}.target_group",
            "blue",
            "the TargetGroup dimension "
            "names no target group of the deployment in the files: the first "
            "(production) target group is assumed",
        )
    return "blue"


def _check_meaning(m: Mapper, res: Resource, name: str, metric: str, stat, comparison) -> None:
    counts = metric.endswith("_Count") or metric == "RequestCount"
    if counts and stat in ("Average", "Minimum", "Maximum"):
        m.report.looks_wrong(
            res.origin,
            f"{stat} of {metric}: ALB count metrics report "
            "Minimum, Maximum and Average as 1; Sum is the count",
        )
    if metric == "TargetResponseTime" and stat in ("Sum", "SampleCount"):
        m.report.looks_wrong(
            res.origin,
            f"{stat} of TargetResponseTime grows with traffic, "
            "not latency; use Average or a percentile",
        )
    errors = "5XX" in metric or "502" in metric or "503" in metric or "504" in metric
    if (errors or metric == "TargetResponseTime" or metric == "UnHealthyHostCount") and (
        comparison.startswith("LessThan")
    ):
        m.report.looks_wrong(
            res.origin, f"{comparison} on {metric}: fires when it is low, i.e. when things are fine"
        )
    if metric == "HealthyHostCount" and comparison.startswith("GreaterThan"):
        m.report.looks_wrong(res.origin, "GreaterThan on HealthyHostCount: fires when healthy")
    lowered = name.lower()
    for word, wanted in (
        ("5xx", "5XX"),
        ("4xx", "4XX"),
        ("latency", "TargetResponseTime"),
        ("unhealthy", "UnHealthyHostCount"),
    ):
        if word in lowered and wanted not in metric:
            m.report.looks_wrong(
                res.origin, f"the name {name!r} says {word}, the metric is {metric}"
            )
            break

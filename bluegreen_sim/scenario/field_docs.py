"""The words of the scenario reference: what each field means and which AWS setting it models.

One :class:`Doc` per field of the scenario's models (``"Model.field"``), and one sentence per
section. :mod:`.reference` puts them next to the types, defaults and ranges it reads from the
models, in ``docs/scenario-reference.md`` and in the JSON Schema. A field added to a model needs
an entry here (tests/test_reference.py says which); the AWS names follow docs/aws-facts.md.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOCS", "SECTIONS", "Doc"]


@dataclass(frozen=True)
class Doc:
    """What a field means: ``text``; the AWS setting it models (``aws``); its ``unit``; a
    ``range`` a validator enforces (bounds declared on the field are read from the model)."""

    text: str
    aws: str = ""
    unit: str = ""
    range: str = ""


D = Doc
_MODEL = "model choice"  # a parameter of the simulation, not an AWS setting

# What each section is, in a sentence or two (models in the order the page shows them).
SECTIONS: dict[str, str] = {
    "Scenario": "The top level of a scenario file. Every field has a default, so a minimal "
    "file is a few lines; unknown fields are errors.",
    "LoadSpec": "Production requests arriving at the load balancer's production listener.",
    "LoadStep": "One step of a `step` load pattern: from `at`, the rate is `rps`.",
    "ServiceSpec": "What every ECS Fargate task of the service is (the task definition and the "
    "application in it), for blue and green unless a revision says otherwise.",
    "RevisionSpec": "`blue` (the running revision) and `green` (the new one): any field left "
    "out (null) is taken from `service`.",
    "Distribution": "A non-negative random duration: service time (`latency`), task start-up "
    "time (`startup`), a crash loop's uptime. Give only the parameters of the chosen "
    "`distribution`.",
    "FaultSpec": "Something that goes wrong: what (`kind`), to which revision, from when "
    "(`after` + `at`), for how long, on what fraction of tasks. Each kind reads its own "
    "parameters.",
    "LoadBalancerSpec": "The Application Load Balancer: its production listener forwards to "
    "the blue and green target groups by weight; these are the target groups' attributes.",
    "HealthCheckSpec": "The target groups' health checks (ALB defaults).",
    "DeploymentSpec": "Which controller shifts production traffic from blue to green, how, "
    "and what may stop it. A setting of one controller given to another is an error.",
    "HookSpec": "A lifecycle hook (the map key is the CodeDeploy hook or ECS stage name): a "
    "test-traffic `probe`, a `lambda`, or (ECS) a `pause`.",
    "TrafficRouting": "A custom CodeDeploy deployment configuration (`TrafficRoutingConfig`, "
    "compute platform ECS), in place of a `CodeDeployDefault.ECS*` name.",
    "ReadyWait": "CodeDeploy's `deploymentReadyOption`: whether traffic rerouting waits after "
    "Install.",
    "LinearConfig": "ECS `LINEAR` strategy: `deploymentConfiguration.linearConfiguration`.",
    "CanaryConfig": "ECS `CANARY` strategy: `deploymentConfiguration.canaryConfiguration`.",
    "ConnectionsSpec": "Long-lived client connections (WebSocket, gRPC streams, keep-alive "
    "with a lifetime): their handshakes are requests; dropped together when their task stops, "
    "they reconnect within a jitter window.",
    "CircuitBreakerSpec": "ECS deployment circuit breaker "
    "(`deploymentConfiguration.deploymentCircuitBreaker`).",
    "CircuitBreakerThreshold": "The circuit breaker's failed-task threshold "
    "(`thresholdConfiguration`): BOUNDED_PERCENT = clamp(⌈value % × desired count⌉, 3, 200).",
    "StepSpec": "One step of `controller: steps`: move green to `weight` %, then hold.",
    "AlarmSpec": "A CloudWatch metric alarm on an Application Load Balancer metric "
    "(namespace `AWS/ApplicationELB`), as `PutMetricAlarm` takes it.",
    "MetricRef": "One metric of an alarm's metric-math `expression` (`MetricDataQuery`).",
    "Pricing": "Fargate prices for the cost figures (us-east-1 Linux/x86 list prices).",
    "CloudWatchSpec": "How CloudWatch sees the load balancer's metrics.",
    "EngineSpec": "How the simulation steps.",
}

_CONCURRENCY = (
    "Requests one task serves at the same time, each at the full service time, from one FIFO "
    "queue. The default, 10, is a typical web task: a Fargate task runs a server that handles "
    "many requests at once (an event loop, a thread pool, gunicorn workers × threads), and a "
    "web request mostly waits on I/O (a database, another service), so a 0.5 vCPU task "
    "serves about ten concurrent requests before its CPU slows them. Measure yours: the "
    "number of requests in flight at which a load test's latency starts to rise. 1 models a "
    "task that does one request at a time (CPU-bound work). Capacity of a revision = tasks × "
    "concurrency ÷ mean service time requests/s; `validate` prints the utilisation."
)

DOCS: dict[str, Doc] = {
    # Scenario
    "Scenario.name": D("Shown in the output and file names."),
    "Scenario.description": D("What the scenario shows; its first line heads the output."),
    "Scenario.duration": D("Simulated time, from 0.", unit="duration", range="> 0, ≤ 7d"),
    "Scenario.seed": D(
        "Random seed (numpy SeedSequence); `--seed` overrides it; null means 0.", _MODEL
    ),
    "Scenario.load": D("The production request load."),
    "Scenario.service": D("The tasks of both revisions."),
    "Scenario.blue": D("Blue's differences from `service`."),
    "Scenario.green": D("Green's differences from `service` (the release under test)."),
    "Scenario.faults": D("What goes wrong, and when."),
    "Scenario.load_balancer": D("The Application Load Balancer and its target groups."),
    "Scenario.deployment": D("The deployment."),
    "Scenario.alarms": D("CloudWatch alarms; the deployment watches those it names."),
    "Scenario.pricing": D("Prices for the cost figures."),
    "Scenario.cloudwatch": D("CloudWatch's metric delivery."),
    "Scenario.engine": D("The simulation's time step."),
    # Load
    "LoadSpec.rps": D("Mean arrival rate (the base rate of `ramp` and `diurnal`).", unit="req/s"),
    "LoadSpec.pattern": D(
        "`constant`; `step` (`steps`); `ramp` (`rps` → `ramp_to`); `diurnal` (a sinusoid); "
        "`trace` (a CSV of `time_s, rps`, piecewise constant)."
    ),
    "LoadSpec.steps": D("`step` pattern: `{at, rps}` changes of the rate."),
    "LoadSpec.ramp_to": D("`ramp` pattern: the rate at `ramp_end`.", unit="req/s"),
    "LoadSpec.ramp_start": D("`ramp` pattern: when the ramp begins.", unit="duration"),
    "LoadSpec.ramp_end": D(
        "`ramp` pattern: when it reaches `ramp_to` (null: the end of the run).", unit="duration"
    ),
    "LoadSpec.period": D("`diurnal` pattern: the sinusoid's period.", unit="duration"),
    "LoadSpec.amplitude": D(
        "`diurnal` pattern: relative amplitude (rate × (1 ± amplitude)).", unit="fraction"
    ),
    "LoadSpec.phase": D("`diurnal` pattern: time shift of the sinusoid.", unit="duration"),
    "LoadSpec.trace": D("`trace` pattern: CSV path (relative to the scenario file)."),
    "LoadSpec.arrivals": D(
        "`poisson` (random, the usual model of independent users) or `uniform` (evenly spaced).",
        _MODEL,
    ),
    "LoadStep.at": D("When the rate changes.", unit="duration"),
    "LoadStep.rps": D("The rate from then on.", unit="req/s"),
    # Service and revisions
    "ServiceSpec.tasks": D(
        "Tasks per revision (green starts as many as blue runs).",
        "ECS service `desiredCount`",
        "tasks",
    ),
    "ServiceSpec.cpu": D(
        "vCPU per task, for the cost figures.",
        "task definition `cpu`",
        "vCPU",
        "0.25, 0.5, 1, 2, 4, 8, 16",
    ),
    "ServiceSpec.memory": D(
        "Memory per task, for the cost figures.", "task definition `memory`", "GB"
    ),
    "ServiceSpec.concurrency": D(
        _CONCURRENCY, "your application's server (not an AWS setting)", "requests"
    ),
    "ServiceSpec.latency": D(
        "Service time of one request once a slot is free (the response time adds the queueing "
        "wait).",
        "",
        "duration",
    ),
    "ServiceSpec.error_rate": D(
        "Share of requests the application answers with HTTP 500.", unit="fraction"
    ),
    "ServiceSpec.startup": D(
        "Time from a task's launch to RUNNING and registered with the target group; AWS "
        "publishes no typical figure (one AWS tutorial measured ≈124 s).",
        _MODEL,
        "duration",
    ),
    **{
        f"RevisionSpec.{name}": D(
            f"Overrides `service.{name}` for this revision.", doc.aws, doc.unit, doc.range
        )
        for name, doc in {
            "tasks": D("", "ECS service `desiredCount`", "tasks"),
            "cpu": D("", "task definition `cpu`", "vCPU", "0.25, 0.5, 1, 2, 4, 8, 16"),
            "memory": D("", "task definition `memory`", "GB"),
            "concurrency": D("", "your application's server", "requests"),
            "latency": D("", "", "duration"),
            "error_rate": D("", "", "fraction"),
            "startup": D("", _MODEL, "duration"),
        }.items()
    },
    # Distributions
    "Distribution.distribution": D("Which distribution; each reads only its parameters."),
    "Distribution.mean": D("`exponential`: the mean.", unit="duration", range="> 0"),
    "Distribution.median": D("`lognormal`: the median.", unit="duration", range="0 < median < p99"),
    "Distribution.p99": D("`lognormal`: the 99th percentile.", unit="duration"),
    "Distribution.value": D("`constant`: the value.", unit="duration"),
    "Distribution.low": D("`uniform`: the lower bound.", unit="duration", range="≤ high"),
    "Distribution.high": D("`uniform`: the upper bound.", unit="duration"),
    "Distribution.file": D(
        "`empirical`: a CSV whose first column holds durations in milliseconds, sampled with "
        "replacement (path relative to the scenario file)."
    ),
    # Faults
    "FaultSpec.kind": D(
        "`error_rate` (extra 5xx share), `latency` (`multiply`/`add`), `crash` (tasks exit; "
        "in-flight requests get ELB 502; ECS restarts them), `crash_loop` (tasks never stay "
        "up: `uptime`), `health_check` (probes fail with `probability`), `slow_leak` (latency "
        "grows by `growth` per minute of task age, crash after `crash_after`), "
        "`load_dependent` (`error_rate` above a task `utilisation`), `dependency_outage` "
        "(both revisions fail: the false-alarm case)."
    ),
    "FaultSpec.revision": D("`blue`, `green` or `both`."),
    "FaultSpec.after": D(
        "What `at` counts from: `start` of the run, `deployment_start`, `green_running`, "
        "`test_traffic`, `production_traffic` (first shift), `full_traffic` (100 %)."
    ),
    "FaultSpec.at": D("Delay after the anchor.", unit="duration"),
    "FaultSpec.duration": D("How long it lasts (null: to the end).", unit="duration"),
    "FaultSpec.fraction": D("Share of the revision's tasks it hits.", unit="fraction"),
    "FaultSpec.error_rate": D(
        "`error_rate`, `load_dependent`, `dependency_outage`: the share of requests that fail.",
        unit="fraction",
    ),
    "FaultSpec.multiply": D("`latency`: service time × this.", unit="factor"),
    "FaultSpec.add": D("`latency`: service time + this.", unit="duration"),
    "FaultSpec.probability": D("`health_check`: chance that a probe fails.", unit="fraction"),
    "FaultSpec.uptime": D("`crash_loop`: how long a task stays up before it crashes."),
    "FaultSpec.growth": D(
        "`slow_leak`: extra service time per minute of task age.", unit="duration per minute"
    ),
    "FaultSpec.crash_after": D(
        "`slow_leak`: task age at which it crashes (out of memory).", unit="duration"
    ),
    "FaultSpec.utilisation": D(
        "`load_dependent`: the task utilisation above which requests fail.", unit="fraction"
    ),
    # Load balancer
    "LoadBalancerSpec.type": D(
        "`application`, or `network` (then CodeDeploy allows only ECSAllAtOnce).",
        "load balancer `Type`",
    ),
    "LoadBalancerSpec.routing": D(
        "How a target group picks a target.",
        "target group attribute `load_balancing.algorithm.type`",
    ),
    "LoadBalancerSpec.deregistration_delay": D(
        "How long a draining target may finish in-flight requests before its task is stopped "
        "(their responses become ELB 502).",
        "target group attribute `deregistration_delay.timeout_seconds`",
        "duration",
        "0s–3600s",
    ),
    "LoadBalancerSpec.slow_start": D(
        "A new healthy target's share ramps linearly over this (0: off; not with "
        "least_outstanding_requests).",
        "target group attribute `slow_start.duration_seconds`",
        "duration",
        "0, or 30s–900s",
    ),
    "LoadBalancerSpec.idle_timeout": D(
        "A request not answered within this ends as ELB 504.",
        "load balancer attribute `idle_timeout.timeout_seconds`",
        "duration",
        "1s–4000s",
    ),
    "LoadBalancerSpec.health_check": D("The target groups' health checks."),
    "LoadBalancerSpec.test_listener": D(
        "A test listener that routes to green only, for test-traffic hooks.",
        "CodeDeploy `testTrafficRoute` / ECS `testListenerRule`",
    ),
    "HealthCheckSpec.enabled": D(
        "Health checks on (off: every registered target is healthy).", "`HealthCheckEnabled`"
    ),
    "HealthCheckSpec.interval": D(
        "Time between checks of one target.", "`HealthCheckIntervalSeconds`", "duration", "5s–300s"
    ),
    "HealthCheckSpec.timeout": D(
        "A probe not answered within this fails.",
        "`HealthCheckTimeoutSeconds`",
        "duration",
        "2s–120s, < interval",
    ),
    "HealthCheckSpec.healthy_threshold": D(
        "Consecutive passes to become healthy.", "`HealthyThresholdCount`", "checks"
    ),
    "HealthCheckSpec.unhealthy_threshold": D(
        "Consecutive failures to become unhealthy.", "`UnhealthyThresholdCount`", "checks"
    ),
    "HealthCheckSpec.initial_checks": D(
        "Passes a newly registered target needs before it is healthy; unset: the healthy "
        "threshold (ECS guides and the current API; the older ALB guide says 1).",
        _MODEL,
        "checks",
    ),
    "HealthCheckSpec.probe_time": D(
        "Work of one probe at the task, after queueing behind requests (null: a request's "
        "service time).",
        _MODEL,
        "duration",
    ),
    # Deployment
    "DeploymentSpec.controller": D(
        "`codedeploy` (CodeDeploy ECS blue/green), `ecs` (ECS-native BLUE_GREEN, LINEAR, "
        "CANARY), `steps` (explicit weights), `none` (blue alone, no deployment).",
        "ECS service `deploymentController.type` (CODE_DEPLOY or ECS)",
    ),
    "DeploymentSpec.start": D("When the deployment begins.", unit="duration", range="< duration"),
    "DeploymentSpec.alarms": D(
        "Names of `alarms` that stop (and may roll back) the deployment.",
        "CodeDeploy `alarmConfiguration.alarms` / ECS `deploymentConfiguration.alarms.alarmNames`",
    ),
    "DeploymentSpec.alarm_poll_interval": D(
        "How often the controller reads the alarms' states (AWS does not document it).",
        _MODEL,
        "duration",
    ),
    "DeploymentSpec.hooks": D(
        "Lifecycle hooks by name. codedeploy: BeforeInstall, AfterInstall, "
        "AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic; ecs: the stage names "
        "(RECONCILE_SERVICE … POST_PRODUCTION_TRAFFIC_SHIFT); steps: `analysis`.",
        "AppSpec `Hooks` / ECS `deploymentConfiguration.lifecycleHooks`",
    ),
    "DeploymentSpec.config": D(
        "codedeploy: a predefined configuration (CodeDeployDefault.ECSAllAtOnce, "
        "ECSLinear10PercentEvery1Minutes, ECSLinear10PercentEvery3Minutes, "
        "ECSCanary10Percent5Minutes, ECSCanary10Percent15Minutes) or a custom one.",
        "deployment group `deploymentConfigName`",
    ),
    "DeploymentSpec.termination_wait": D(
        "codedeploy: how long blue is kept after the full shift (alarms still watched, "
        "rollback still possible).",
        "`terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes`",
        "duration",
        "≤ 2880 min",
    ),
    "DeploymentSpec.auto_rollback": D(
        "codedeploy: the events that roll back (without them a failure stops where it is).",
        "`autoRollbackConfiguration.events`",
    ),
    "DeploymentSpec.ready_wait": D(
        "codedeploy: wait before rerouting traffic.",
        "`blueGreenDeploymentConfiguration.deploymentReadyOption`",
    ),
    "DeploymentSpec.install_timeout": D(
        "How long green may take to become steady (running and healthy) before the deployment "
        "fails (CodeDeploy documents up to an hour).",
        _MODEL,
        "duration",
    ),
    "DeploymentSpec.strategy": D(
        "ecs: how production traffic moves (ROLLING: tasks replaced in place, both revisions "
        "behind one target group).",
        "`deploymentConfiguration.strategy`",
    ),
    "DeploymentSpec.linear": D(
        "ecs LINEAR: step and bake.", "`deploymentConfiguration.linearConfiguration`"
    ),
    "DeploymentSpec.canary": D(
        "ecs CANARY: canary share and bake.", "`deploymentConfiguration.canaryConfiguration`"
    ),
    "DeploymentSpec.bake_time": D(
        "ecs: both revisions run this long after the full shift; alarms can still roll back. "
        "Unset: AWS's default for the strategy (15 min; none for ROLLING).",
        "`deploymentConfiguration.bakeTimeInMinutes`",
        "duration",
        "≤ 1440 min",
    ),
    "DeploymentSpec.circuit_breaker": D(
        "ecs: the deployment circuit breaker.", "`deploymentConfiguration.deploymentCircuitBreaker`"
    ),
    "DeploymentSpec.alarm_rollback": D(
        "ecs: an alarm rolls back (else the deployment fails where it is).",
        "`deploymentConfiguration.alarms.rollback`",
    ),
    "DeploymentSpec.steps": D("steps: `{weight, pause}` in order; the last weight is 100."),
    "DeploymentSpec.rollback_on_failure": D(
        "steps: a failed analysis or an alarm rolls back (else it stops where it is).", _MODEL
    ),
    "HookSpec.kind": D(
        "`probe` (test requests), `lambda` (runs, then reports), `pause` (ECS: "
        "waits for an operator).",
        "ECS hook `targetType` AWS_LAMBDA or PAUSE",
    ),
    "HookSpec.requests": D("probe: how many test requests.", unit="requests"),
    "HookSpec.rate": D("probe: their rate.", unit="req/s"),
    "HookSpec.max_error_rate": D("probe: fails above this error share.", unit="fraction"),
    "HookSpec.max_p99": D("probe: fails above this p99 (null: no latency limit).", unit="duration"),
    "HookSpec.duration": D("lambda: how long it runs.", unit="duration"),
    "HookSpec.outcome": D("lambda: what it reports."),
    "HookSpec.failure_probability": D(
        "lambda: report Failed with this probability (in place of `outcome`).", unit="fraction"
    ),
    "HookSpec.continue_after": D(
        "pause: when an operator continues (null: never).", unit="duration"
    ),
    "HookSpec.timeout": D(
        "ecs: the hook's timeout (CodeDeploy's is fixed at 3600 s).",
        "ECS `timeoutConfiguration.timeoutInMinutes`",
        "duration",
        "1–20160 min",
    ),
    "HookSpec.timeout_action": D("ecs: what a timeout does.", "ECS `timeoutConfiguration.action`"),
    "TrafficRouting.type": D("The shift shape.", "`trafficRoutingConfig.type`"),
    "TrafficRouting.percentage": D(
        "Canary: the first shift; linear: each shift.",
        "`timeBasedCanary.canaryPercentage` / `timeBasedLinear.linearPercentage`",
        "%",
    ),
    "TrafficRouting.interval": D(
        "Canary: time before the rest; linear: time between shifts (whole minutes).",
        "`canaryInterval` / `linearInterval` (minutes)",
        "duration",
        "≥ 1 min, whole minutes",
    ),
    "ReadyWait.action_on_timeout": D(
        "`CONTINUE_DEPLOYMENT` (reroute at once) or `STOP_DEPLOYMENT` (wait for a continue).",
        "`deploymentReadyOption.actionOnTimeout`",
    ),
    "ReadyWait.wait": D(
        "STOP_DEPLOYMENT: how long to wait for the continue.",
        "`deploymentReadyOption.waitTimeInMinutes`",
        "duration",
        "≤ 120 h",
    ),
    "ReadyWait.continue_at": D(
        "When an operator continues (null: never, so it stops).", _MODEL, "duration"
    ),
    "LinearConfig.step_percent": D(
        "Share moved per step.", "`linearConfiguration.stepPercent`", "%", "multiples of 0.1"
    ),
    "LinearConfig.step_bake_time": D(
        "Wait after each step but the last.",
        "`linearConfiguration.stepBakeTimeInMinutes`",
        "duration",
        "≤ 1440 min",
    ),
    "CanaryConfig.canary_percent": D(
        "The canary's share.", "`canaryConfiguration.canaryPercent`", "%", "multiples of 0.1"
    ),
    "CanaryConfig.canary_bake_time": D(
        "Wait before the rest moves.",
        "`canaryConfiguration.canaryBakeTimeInMinutes`",
        "duration",
        "≤ 1440 min",
    ),
    "CircuitBreakerSpec.enable": D("Count failed tasks.", "`deploymentCircuitBreaker.enable`"),
    "CircuitBreakerSpec.rollback": D(
        "Roll back when it trips.", "`deploymentCircuitBreaker.rollback`"
    ),
    "CircuitBreakerSpec.reset_on_healthy_task": D(
        "A task becoming healthy resets the count.", "`deploymentCircuitBreaker.resetOnHealthyTask`"
    ),
    "CircuitBreakerSpec.threshold": D(
        "When it trips.", "`deploymentCircuitBreaker.thresholdConfiguration`"
    ),
    "CircuitBreakerThreshold.type": D(
        "`COUNT` (value tasks), `BOUNDED_PERCENT` (bounded 3–200), `UNBOUNDED_PERCENT`.",
        "`thresholdConfiguration.type`",
    ),
    "CircuitBreakerThreshold.value": D(
        "Tasks, or percent of the desired count.", "`thresholdConfiguration.value`"
    ),
    "StepSpec.weight": D("Green's share of production traffic.", unit="%"),
    "StepSpec.pause": D("Hold at this weight while the alarms are watched.", unit="duration"),
    # Alarms
    "AlarmSpec.name": D("Alarm name (the deployment names it in `alarms`).", "`AlarmName`"),
    "AlarmSpec.metric": D("An ALB metric (or use `expression`).", "`MetricName`"),
    "AlarmSpec.target_group": D(
        "The target group dimension (null: the whole load balancer).", "dimension `TargetGroup`"
    ),
    "AlarmSpec.statistic": D(
        "`SampleCount`, `Sum`, `Average`, `Minimum`, `Maximum`.", "`Statistic`"
    ),
    "AlarmSpec.extended_statistic": D(
        "A percentile such as `p99` (instead of `statistic`).", "`ExtendedStatistic`"
    ),
    "AlarmSpec.expression": D(
        "Metric math of the form `100 * A / B` over `metrics`.", "`Metrics[].Expression`"
    ),
    "AlarmSpec.metrics": D("The metrics an `expression` names, by id.", "`Metrics[].MetricStat`"),
    "AlarmSpec.period": D(
        "Datapoint period.", "`Period`", "duration", "10s, 20s, 30s or a multiple of 60s"
    ),
    "AlarmSpec.evaluation_periods": D(
        "N: the datapoints evaluated.",
        "`EvaluationPeriods`",
        "periods",
        "period × N ≤ 1 day (7 days for ≥ 1 h)",
    ),
    "AlarmSpec.datapoints_to_alarm": D(
        "M of N breaching to alarm (null: N).",
        "`DatapointsToAlarm`",
        "periods",
        "≤ evaluation_periods",
    ),
    "AlarmSpec.threshold": D("The value compared with.", "`Threshold`", "the metric's unit"),
    "AlarmSpec.comparison": D("How.", "`ComparisonOperator`"),
    "AlarmSpec.treat_missing_data": D("How missing datapoints count.", "`TreatMissingData`"),
    "MetricRef.metric": D("An ALB metric.", "`MetricStat.Metric.MetricName`"),
    "MetricRef.target_group": D(
        "The target group dimension (null: the load balancer).", "dimension `TargetGroup`"
    ),
    "MetricRef.statistic": D("Its statistic.", "`MetricStat.Stat`"),
    "Pricing.vcpu_hour": D("Price of one vCPU for an hour.", "Fargate pricing", "USD"),
    "Pricing.gb_hour": D("Price of one GB of memory for an hour.", "Fargate pricing", "USD"),
    "CloudWatchSpec.publish_delay": D(
        "How long after a response its count reaches CloudWatch (0: detection times are a "
        "lower bound).",
        _MODEL,
        "duration",
        "≤ 10m",
    ),
    "EngineSpec.window": D(
        "The data plane's step, also the control plane's resolution: a change inside a window "
        "takes effect at the next one.",
        _MODEL,
        "duration",
        "10ms–10s",
    ),
    # -- added with the fidelity and timing work (issues 9 and 15) -------------------------
    "LoadSpec.clients": D(
        "Client population: each request comes from one client drawn uniformly at random "
        "(unset: requests are not told apart). Needed by target-group stickiness.",
        _MODEL,
        "clients",
    ),
    "LoadSpec.connections": D("Long-lived connections on top of `rps` (count 0: none).", _MODEL),
    "ConnectionsSpec.count": D("Connections open at once.", _MODEL, "connections"),
    "ConnectionsSpec.lifetime": D(
        "How long a connection lasts before the client reopens it.", _MODEL, "duration"
    ),
    "ConnectionsSpec.reconnect_jitter": D(
        "Dropped clients reconnect uniformly within this window.", _MODEL, "duration", "≤ 1h"
    ),
    "ServiceSpec.app_start": D(
        "After RUNNING, the application answers only this much later (health checks and "
        "requests fail until then).",
        "your application's start-up (not an AWS setting)",
        "duration",
    ),
    "ServiceSpec.stop_timeout": D(
        "After draining, SIGTERM; SIGKILL this long after (billed until the task stops).",
        "container definition `stopTimeout` (Fargate default 30 s)",
        "duration",
        "2s–120s",
    ),
    "ServiceSpec.minimum_healthy_percent": D(
        "Tasks kept RUNNING and healthy, in percent of the desired count (rounded up), while "
        "ECS replaces unhealthy tasks or rolls out.",
        "`deploymentConfiguration.minimumHealthyPercent`",
        "percent",
    ),
    "ServiceSpec.maximum_percent": D(
        "Most tasks RUNNING or PENDING, in percent of the desired count (rounded down): room "
        "to start replacements first.",
        "`deploymentConfiguration.maximumPercent`",
        "percent",
    ),
    "ServiceSpec.health_check_grace_period": D(
        "ECS ignores failing load-balancer health checks of a new task this long after it started.",
        "service `healthCheckGracePeriodSeconds`",
        "duration",
    ),
    "RevisionSpec.app_start": D("The revision's own `service.app_start`.", "", "duration"),
    "RevisionSpec.stop_timeout": D(
        "The revision's own `service.stop_timeout`.", "container `stopTimeout`", "duration"
    ),
    "FaultSpec.green_weight": D(
        "listener_reset: the green weight (percent) an outside change sets the rule to.",
        "listener rule `ForwardConfig` weights",
        "percent",
    ),
    "LoadBalancerSpec.client_connections": D(
        "keep_alive: clients hold connections, so deregistration runs the full delay; close: "
        "it ends early once no request is in flight.",
        _MODEL,
    ),
    "LoadBalancerSpec.target_group_stickiness": D(
        "0: off; else the AWSALBTG cookie's duration: a client keeps going to the target group "
        "it was sent to. Needs `load.clients`.",
        "forward action `TargetGroupStickinessConfig.DurationSeconds`",
        "duration",
        "0, or 1s–7d",
    ),
    "LoadBalancerSpec.anomaly_mitigation": D(
        "Automatic target weights: an anomalous target gets less traffic, step by step "
        "(weighted_random only).",
        "target group attribute `load_balancing.algorithm.anomaly_mitigation`",
    ),
    "LoadBalancerSpec.listener_change_delay": D(
        "A listener (weight) change takes effect this much later (AWS documents none).",
        _MODEL,
        "duration",
        "≤ 10m",
    ),
    "DeploymentSpec.task_set_replacement": D(
        "codedeploy/steps: replace an unhealthy task first (replace_first) or stop it first "
        "(stop_first); AWS documents replacement first for services only.",
        _MODEL,
    ),
    "DeploymentSpec.rollback_reroute_delay": D(
        "On a rollback green is scaled down first and traffic moves back this much later (0: "
        "traffic first).",
        _MODEL,
        "duration",
        "≤ 1h",
    ),
    "CircuitBreakerSpec.counting": D(
        "documented: only tasks that fail before they were ever healthy count; every_stop: "
        "every stopped task (the first model's reading).",
        "`deploymentCircuitBreaker` (how failures count)",
    ),
}

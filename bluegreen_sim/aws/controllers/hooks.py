"""Lifecycle hooks: a test-traffic probe, a Lambda function, or (ECS) a pause.

A ``probe`` sends ``requests`` requests at ``rate`` per second through the test listener (or,
where there is none, through the production listener, which splits them by the weights in force)
and fails if their error rate or p99 latency exceeds its limits. A ``lambda`` runs for its
``duration`` and succeeds or fails (with a probability, if given). A ``pause`` waits until an
operator continues the deployment. A hook that does not report within its timeout fails (or,
for ECS hooks with ``timeout_action: CONTINUE``, lets the deployment go on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...scenario import HookSpec

if TYPE_CHECKING:
    from ...engine.simulation import World

CODEDEPLOY_HOOK_TIMEOUT = 3600.0  # "within one hour" (CodeDeploy user guide)
ECS_HOOK_TIMEOUT = 1440 * 60.0  # timeoutInMinutes default (ECS API)


@dataclass
class HookResult:
    """What a hook reported."""

    status: str  # Succeeded, Failed or TimedOut
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "Succeeded"


def run_hook(world: World, name: str, spec: HookSpec, timeout: float):
    """SimPy generator: run one hook; its return value is a :class:`HookResult`."""
    env = world.env
    world.log("hook", f"{name} started", f"{spec.kind}")
    body = env.process(_body(world, spec))
    deadline = env.timeout(timeout)
    yield body | deadline
    if body.triggered:
        result = body.value
    else:
        result = HookResult("TimedOut", f"no report within {timeout:g}s")
    world.log("hook", f"{name} {result.status.lower()}", result.detail)
    return result


def _body(world: World, spec: HookSpec):
    env = world.env
    if spec.kind == "lambda":
        yield env.timeout(spec.duration)
        if spec.failure_probability is not None:
            world.dataplane.flush()  # deferred health-check probes draw from this stream first
            failed = world.rngs.hooks.random() < spec.failure_probability
            return HookResult(
                "Failed" if failed else "Succeeded", f"lambda finished after {spec.duration:g}s"
            )
        return HookResult(spec.outcome, f"lambda finished after {spec.duration:g}s")
    if spec.kind == "pause":
        if spec.continue_after is None:
            yield env.event()  # never continued: the timeout decides
        yield env.timeout(spec.continue_after)
        return HookResult("Succeeded", f"continued after {spec.continue_after:g}s")
    return (yield from _probe(world, spec))


def _probe(world: World, spec: HookSpec):
    listener = world.listener
    via = "test" if listener.has_test_listener and listener.test_traffic_to_green else "production"
    start = world.dataplane.computed_until
    times = start + np.arange(spec.requests) / spec.rate
    source = world.dataplane.send_test_traffic(times, via)
    yield source.finished
    status, latency, revision = source.results()
    n = len(status)
    errors = int((status >= 500).sum())
    rate = errors / n if n else 0.0
    p99 = float(np.percentile(latency, 99)) if n else 0.0
    on_green = int((revision == 1).sum())
    detail = (
        f"{n} requests via the {via} listener ({on_green} reached green): "
        f"{errors} errors ({rate:.1%}), p99 {p99 * 1000:.0f}ms"
    )
    failed = rate > spec.max_error_rate or (spec.max_p99 is not None and p99 > spec.max_p99)
    return HookResult("Failed" if failed else "Succeeded", detail)

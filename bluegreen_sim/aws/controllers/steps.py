"""``controller: steps``: explicit ``{weight, pause}`` steps with analysis after each.

For strategies neither AWS controller offers (1 % → 5 % → 25 % → 100 %), as progressive-delivery
tools do: create green, wait until it is healthy, then for each step move production traffic to
the step's weight, run the ``analysis`` hook (a probe or a Lambda) if there is one, and hold for
the step's pause while the deployment's alarms are watched. A failed analysis or an alarm rolls
back (``rollback_on_failure``) or stops the deployment where it is. After the last step blue is
removed.
"""

from __future__ import annotations

from .base import Deployment
from .hooks import CODEDEPLOY_HOOK_TIMEOUT


class StepsDeployment(Deployment):
    name = "steps"

    def describe(self) -> str:
        return "steps " + " → ".join(f"{s.weight:g}%" for s in self.spec.steps)

    def run(self):
        env, spec = self.world.env, self.spec
        yield env.timeout(spec.start)
        self.begin()
        self.create_green()
        ready = yield from self.wait_green_ready(spec.install_timeout)
        if not ready:
            return self._fail("green task set never became healthy")
        self.log("green healthy", f"{len(self.green.healthy())} healthy target(s)")
        self.allow_test_traffic()
        self.watch_alarms()
        for number, step in enumerate(spec.steps, start=1):
            self.shift_production(step.weight, f"step {number}")
            result = yield from self.hook("analysis", CODEDEPLOY_HOOK_TIMEOUT)
            if result is not None and not result.ok:
                return self._fail(f"analysis after step {number} {result.status.lower()}")
            if self.alarm_tripped.triggered:
                return self._fail(f"alarm {self.tripped_alarm}")
            ok = yield from self.wait(step.pause)
            if not ok:
                return self._fail(f"alarm {self.tripped_alarm} during step {number}")
        self.stop_watching()
        self.finish("SUCCEEDED", "all steps done")
        self.world.task_sets["blue"].remove("replaced by green")

    def _fail(self, reason: str) -> None:
        if self.spec.rollback_on_failure:
            self.roll_back(reason)
            self.finish("ROLLED_BACK", reason)
        else:
            self.stop_here(reason)
            self.finish("FAILED", reason)

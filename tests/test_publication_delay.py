"""The narration says when a run's detection times rest on a zero publication delay.

AWS does not publish how long ALB metrics take to reach CloudWatch (docs/semantics.md §4), so a
run with alarms and ``cloudwatch.publish_delay: 0`` (the default) detects as early as possible:
its narration says so in one line. Lesson 21 (60 s) and a run without alarms do not need it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_sim import load_scenario, simulate
from bluegreen_sim.results.narrate import PUBLISH_DELAY_NOTE, narrate

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize(
    ("name", "overrides", "noted"),
    [
        ("06-blast-radius-all-at-once.yaml", [], True),
        ("21-publication-delay.yaml", [], False),
        ("21-publication-delay.yaml", ["cloudwatch.publish_delay=0"], True),
        ("13-cold-start-slow-start.yaml", ["duration=4m"], False),  # no alarms
    ],
)
def test_the_narration_notes_a_zero_publication_delay(name, overrides, noted):
    result = simulate(load_scenario(SCENARIOS / name, overrides))
    assert (PUBLISH_DELAY_NOTE in narrate(result)) is noted

"""The import/export lesson (``scenarios/aws/``) keeps teaching what it says.

A team's CloudFormation template (all at once, an alarm on a *count* of 5xx over 150 a minute)
is imported; a release that fails 2 % of requests gets through it. The safer setting (a 10 %
canary and an alarm on the error *rate* over 1 %) rolls the same release back with a handful
of failed requests and lets a healthy release through; its export imports back to the same
deployment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_sim import load_scenario, simulate
from bluegreen_sim.cli import main
from bluegreen_sim.interop.detect import recognise
from bluegreen_sim.interop.export import export
from bluegreen_sim.interop.importer import import_sources, validate

ROOT = Path(__file__).resolve().parent.parent
AWS = ROOT / "scenarios" / "aws"
BAD_RELEASE = ["green.error_rate=0.02"]


def test_the_shipped_scenario_is_what_import_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the comments name the template by its path from the repository
    out = tmp_path / "web-service.yaml"
    assert main(["import", "scenarios/aws/web-service.template.yaml", "--out", str(out)]) == 0
    assert out.read_text() == (AWS / "web-service.yaml").read_text()
    assert "Looks wrong (0)" in capsys.readouterr().out


def test_the_imported_setting_lets_a_bad_release_through():
    s = simulate(load_scenario(AWS / "web-service.yaml", overrides=BAD_RELEASE), seed=1).summary
    assert s["outcome"] == "SUCCEEDED" and s["alarms_fired"] == []
    assert s["requests_failed"] > 2000  # 2 % of 80 requests/s reach users for good


def test_the_safer_setting_rolls_it_back_in_the_canary():
    s = simulate(
        load_scenario(AWS / "web-service-safer.yaml", overrides=BAD_RELEASE), seed=1
    ).summary
    assert s["outcome"] == "ROLLED_BACK"
    assert s["alarms_fired"] == ["prod-web-green-error-rate"]
    assert s["detected_before_full_traffic"] and s["requests_failed"] < 50


def test_the_safer_setting_lets_a_healthy_release_through():
    s = simulate(load_scenario(AWS / "web-service-safer.yaml"), seed=1).summary
    assert s["outcome"] == "SUCCEEDED" and s["alarms_fired"] == []


@pytest.mark.parametrize("to", ["cloudformation", "terraform"])
def test_the_safer_setting_exports_and_imports_back(to):
    safer = load_scenario(AWS / "web-service-safer.yaml")
    name = "export.yaml" if to == "cloudformation" else "export.tf"
    raw, report = import_sources([recognise(name, export(safer, to))], lint=False)
    back = validate(raw, report)
    assert back.deployment.config == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert back.deployment.alarms == safer.deployment.alarms
    assert back.alarms[1].ratio == (100.0, "errors", "requests")

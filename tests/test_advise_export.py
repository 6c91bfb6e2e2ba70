"""``advise --export``: the recommended setup written by the ``export`` command's writers, next
to ``recommended.yaml``, and accepted by AWS's own linter. Runtime: a few seconds."""

from __future__ import annotations

import yaml

# The short canary of tests/test_advise.py, with three of its candidates.
from test_advise import CANDIDATES, SCENARIO

from bluegreen_sim.cli import main
from bluegreen_sim.interop.detect import recognise
from bluegreen_sim.interop.importer import import_sources, validate
from bluegreen_sim.scenario import load_scenario


def _advise(tmp_path, *extra: str) -> tuple[int, object]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    cands = tmp_path / "c.yaml"
    cands.write_text(yaml.safe_dump({k: CANDIDATES[k] for k in list(CANDIDATES)[:3]}))
    out = tmp_path / "out"
    argv = ["advise", str(scenario), "--candidates", str(cands), "--out", str(out)]
    argv += ["--max-reps", "5", "--max-false-rollback", "0.5", "--min-detect", "0.5", *extra]
    return main(argv), out


def test_advise_exports_the_recommendation_as_cloudformation_that_lints_clean(tmp_path, capsys):
    import cfnlint.api as api

    code, out = _advise(tmp_path, "--export", "cloudformation")
    assert code == 0, capsys.readouterr().err
    text = (out / "recommended.cfn.yaml").read_text()
    matches = api.lint(text, config=api.ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []
    # The snippet says what the scenario file says: import it back and compare.
    recommended = load_scenario(out / "recommended.yaml")
    raw, report = import_sources([recognise("recommended.cfn.yaml", text)], lint=False)
    back = validate(raw, report)
    assert back.deployment.config == recommended.deployment.config
    assert [a.threshold for a in back.alarms] == [a.threshold for a in recommended.alarms]
    assert back.deployment.alarms == recommended.deployment.alarms


def test_advise_export_needs_out_and_refuses_what_has_no_aws_form(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    assert main(["advise", str(scenario), "--export", "terraform"]) == 2
    assert "--export needs --out" in capsys.readouterr().err
    # The recommendation deploys with CodeDeploy, so an AppSpec is one of its forms.
    code, out = _advise(tmp_path, "--export", "appspec")
    assert code == 0
    assert "TargetService" in (out / "recommended.appspec.yaml").read_text()
    assert (out / "recommended.yaml").exists()

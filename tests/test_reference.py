"""The scenario reference and the JSON Schema: generated from the models, complete, in sync.

``docs/scenario-reference.md`` is regenerated and compared, so a model change without the page
fails here; every field must have words in ``DOCS``; the schema printed by ``bluegreen-sim
schema`` accepts every bundled scenario and refuses what the loader refuses (an unknown field,
a duration that is not one). ``docs/semantics.md`` may only point to files the repository has.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bluegreen_sim.cli import main
from bluegreen_sim.scenario.reference import missing_docs, reference_markdown

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "scenario-reference.md"


def test_the_reference_page_is_generated_from_the_models() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/scenario-reference.md is out of date: run "
        "python -m bluegreen_sim.scenario.reference > docs/scenario-reference.md"
    )


def test_every_field_is_described() -> None:
    assert missing_docs() == []


def test_the_reference_names_types_defaults_ranges_and_aws_settings() -> None:
    page = reference_markdown()
    row = next(ln for ln in page.splitlines() if ln.startswith("| `deregistration_delay` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:6] == [
        "duration",
        "`5m`",
        "0s–3600s",
        "duration",
        "target group attribute `deregistration_delay.timeout_seconds`",
    ]
    concurrency = next(ln for ln in page.splitlines() if ln.startswith("| `concurrency` |"))
    assert "`10`" in concurrency and "≥ 1" in concurrency and "typical web task" in concurrency


def _schema(capsys) -> dict:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def test_schema_accepts_every_bundled_scenario_and_refuses_mistakes(capsys) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert files
    for path in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path.name
    ok = {"duration": "1h30m", "deployment": {"start": "90s", "termination_wait": 300}}
    assert list(validator.iter_errors(ok)) == []
    assert list(validator.iter_errors({"servce": {"tasks": 2}}))  # a typo
    assert list(validator.iter_errors({"duration": "ninety seconds"}))
    assert list(validator.iter_errors({"service": {"concurrency": 0}}))


def test_schema_carries_the_reference_words(capsys) -> None:
    schema = _schema(capsys)
    concurrency = schema["$defs"]["ServiceSpec"]["properties"]["concurrency"]
    assert concurrency["default"] == 10 and "typical web task" in concurrency["description"]
    assert "base_dir" not in schema["properties"]


def test_schema_markdown_is_the_page(capsys) -> None:
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_errors_point_to_a_reference_that_exists(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("servce: {tasks: 2}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "see the scenario reference" in err
    assert REFERENCE.is_file()


_REPO_DIRS = ("bluegreen_sim/", "scenarios/", "tests/", "docs/", "benchmarks/", "notebooks/")


def test_semantics_points_only_to_files_in_the_repository() -> None:
    text = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
    missing = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):  # markdown links
        if "://" not in target and not (ROOT / "docs" / target).exists():
            missing.append(target)
    for path in re.findall(r"`([^`\s]+)`", text):  # code spans that are repository paths
        if path.startswith(_REPO_DIRS) and not list(ROOT.glob(path.rstrip("/"))):
            missing.append(path)
    assert missing == []

"""Every bad scenario in ``tests/bad_scenarios/`` is refused before anything runs.

For each file, ``bluegreen-sim validate`` and ``bluegreen-sim run --out DIR`` must exit with
status 2, print exactly one line on stderr that names the file, the field path and what was
expected (the substrings in ``EXPECTED.yaml``), print no traceback, and create no output folder.
Nothing in a scenario file is evaluated as code: the YAML file with a ``!!python/object/apply``
tag must not run its command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bluegreen_sim.cli import main

HERE = Path(__file__).parent
CORPUS = HERE / "bad_scenarios"
EXPECTED: dict[str, list[str]] = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text())
FILES = sorted(p.name for p in CORPUS.iterdir() if p.name != "EXPECTED.yaml")
# The command the python-tag file tries to run would create this file.
PWNED = Path("/tmp/bluegreen-sim-pwned-marker")


def test_the_corpus_is_complete() -> None:
    assert sorted(EXPECTED) == FILES, "every bad scenario needs its expected error, and back"
    assert len(FILES) >= 24
    suffixes = {Path(f).suffix for f in FILES}
    assert {".yaml", ".toml", ".json"} <= suffixes
    assert "python/object/apply:os.system" in (CORPUS / "python-tag.yaml").read_text()
    assert str(PWNED) in (CORPUS / "python-tag.yaml").read_text()


def _check_refusal(path: Path, code: int, out: str, err: str) -> None:
    assert code == 2, f"{path.name}: exit status {code}, stderr {err!r}"
    assert out == "", f"{path.name}: nothing on stdout, got {out!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"{path.name}: one line on stderr, got {err!r}"
    line = lines[0]
    assert "Traceback" not in err
    assert line.startswith(f"bluegreen-sim: error: {path}"), line
    for expected in EXPECTED[path.name]:
        assert expected in line, f"{path.name}: {expected!r} not in {line!r}"


@pytest.fixture(autouse=True)
def _no_marker():
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists(), "a scenario file ran code"


@pytest.mark.parametrize("name", FILES)
def test_validate_refuses(name: str, capsys) -> None:
    path = CORPUS / name
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    _check_refusal(path, code, out, err)


@pytest.mark.parametrize("name", FILES)
def test_run_refuses_and_writes_nothing(name: str, tmp_path: Path, capsys) -> None:
    path = CORPUS / name
    out_dir = tmp_path / "results" / "run"
    code = main(["run", str(path), "--out", str(out_dir), "--plot", "--seed", "1"])
    out, err = capsys.readouterr()
    _check_refusal(path, code, out, err)
    assert not (tmp_path / "results").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_bad_override_is_refused_like_a_bad_file(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("duration: 3m\nload: {rps: 20}\n")
    code = main(["validate", str(good), "--set", "load_balancer.health_check.interval=2s"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"bluegreen-sim: error: {good}: load_balancer.health_check.interval: "
        "interval must be between 5s and 300s"
    ]
    code = main(["validate", str(good), "--set", "green.error_rte=0.5"])
    _, err = capsys.readouterr()
    assert code == 2 and "green.error_rte: unknown field" in err


def test_a_real_process_refuses_without_traceback(tmp_path: Path) -> None:
    """The same refusal through the interpreter: exit status, one line, no code run."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for name in ("python-tag.yaml", "hc-healthy-threshold-11.toml", "json-syntax.json"):
        path = CORPUS / name
        out_dir = tmp_path / "out"
        proc = subprocess.run(
            [sys.executable, "-m", "bluegreen_sim", "run", str(path), "--out", str(out_dir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        _check_refusal(path, proc.returncode, proc.stdout, proc.stderr)
        assert not out_dir.exists()

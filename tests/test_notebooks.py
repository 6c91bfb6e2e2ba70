"""The notebooks run top to bottom, and are stored without outputs.

Each notebook's code cells run in order in one namespace with ``exec`` (no Jupyter needed),
from inside ``notebooks/`` so their relative paths resolve, with matplotlib's Agg backend. Any
exception fails the test, naming the notebook and the cell. The notebooks are kept with their
outputs stripped (no outputs, ``execution_count`` null), both on disk and, where git tracks
them, in git's index, so a diff shows only what the author changed.

Runtime: about 15 s for the three notebooks.
"""

from __future__ import annotations

import json
import subprocess
import traceback
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FILES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
EXPECTED = {
    "01-compare-strategies.ipynb",
    "02-lesson-walkthrough.ipynb",
    "03-failure-rate-sweep.ipynb",
    "04-which-canary-and-alarm.ipynb",
}


def _code_cells(nb: dict) -> list[tuple[int, str]]:
    """(cell number, source) of every code cell; numbers count all cells from 1."""
    out = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] == "code":
            source = cell["source"]
            out.append((number, "".join(source) if isinstance(source, list) else source))
    return out


def _stripped_problems(nb: dict) -> list[str]:
    problems = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {number} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {number} has execution_count {cell['execution_count']}")
    return problems


def test_the_three_notebooks_exist():
    assert set(FILES) >= EXPECTED, f"missing: {sorted(EXPECTED - set(FILES))}"


@pytest.mark.parametrize("name", FILES)
def test_notebook_is_nbformat_4_with_outputs_stripped(name):
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    assert _code_cells(nb), f"{name} has no code cells"
    problems = _stripped_problems(nb)
    assert not problems, f"{name}: {problems}"


@pytest.mark.parametrize("name", FILES)
def test_notebook_in_git_index_has_outputs_stripped(name):
    rel = f"notebooks/{name}"
    try:
        shown = subprocess.run(
            ["git", "show", f":{rel}"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if shown.returncode != 0:
        pytest.skip(f"{rel} is not in git's index")
    problems = _stripped_problems(json.loads(shown.stdout))
    assert not problems, f"{rel} as staged in git: {problems}"


@pytest.mark.parametrize("name", FILES)
def test_notebook_runs_top_to_bottom(name, monkeypatch):
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    monkeypatch.chdir(NOTEBOOKS)
    namespace: dict = {"__name__": "__main__"}
    try:
        for number, source in _code_cells(nb):
            try:
                exec(compile(source, f"{name} cell {number}", "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"{name}, cell {number} raised:\n{traceback.format_exc()}", pytrace=False
                )
    finally:
        plt.close("all")

"""Installed, not only checked out: the lessons are package data.

The wheel ``pip wheel .`` builds holds every lesson and sweep file. Installed from it (unzipped
into a folder of its own, away from the checkout), ``bluegreen-sim scenarios`` lists the lessons
from the package and ``bluegreen-sim run LESSON`` runs one by name. ``pip install
'.[notebook]'`` brings what the notebooks need. Building the wheel takes some seconds (pip's
isolated build environment); it is skipped, saying why, where pip cannot build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
SWEEPS = sorted(p.name for p in (ROOT / "scenarios" / "sweeps").glob("*.yaml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "bluegreen_sim", "scenarios"):
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(
                item, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(item, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"pip cannot build a wheel here: {proc.stderr.strip().splitlines()[-1:]}")
    (found,) = out.glob("*.whl")
    return found


def test_the_wheel_holds_every_lesson(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert LESSONS and SWEEPS
    for name in LESSONS:
        assert f"bluegreen_sim/lessons/{name}" in names
    for name in SWEEPS:
        assert f"bluegreen_sim/lessons/sweeps/{name}" in names


def test_installed_lessons_are_listed_and_run_by_name(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)  # a pure-Python wheel installs by unzipping
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("BLUEGREEN_SCENARIOS", None)
    away = tmp_path / "elsewhere"  # not the checkout: the package must carry its lessons
    away.mkdir()

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bluegreen_sim", *argv],
            cwd=away,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    listed = cli("scenarios")
    assert listed.returncode == 0, listed.stderr
    folder = target / "bluegreen_sim" / "lessons"
    assert f"Scenarios in {folder}:" in listed.stdout
    for name in LESSONS:
        assert name in listed.stdout
    assert not folder.is_symlink()  # real files once installed
    ran = cli("run", "06-blast-radius-all-at-once", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert "ROLLED_BACK" in ran.stdout


def test_the_bundled_lessons_are_the_repository_scenarios() -> None:
    from bluegreen_sim.cli.lessons import bundled_dir

    assert sorted(p.name for p in bundled_dir().glob("*.yaml")) == LESSONS


def test_a_notebook_extra_installs_what_the_notebooks_need() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = " ".join(project["optional-dependencies"]["notebook"])
    for need in ("jupyterlab", "ipykernel", "nbclient", "nbformat"):
        assert need in extra

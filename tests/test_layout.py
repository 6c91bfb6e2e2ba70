"""The folders are the architecture: imports point one way, and every room says what it holds.

The AWS model and the engine never import analysis, plotting, narration, the user's AWS files or
the CLI; they use only the scenario and each other (the engine fills the ``Result`` container).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bluegreen_sim"
# Rooms the model may not reach: bluegreen_sim.<room>[.<module>]
FORBIDDEN_FOR_MODEL = ("analysis", "cli", "interop", "results.plots", "results.narrate")


def _imports(path: Path) -> set[str]:
    """Absolute dotted names of the bluegreen_sim modules that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            # `from X import y` may name the module X.y: count both X and X.y
            names = [".".join(target)] + [".".join([*target, a.name]) for a in node.names]
            found.update(n for n in names if n.startswith("bluegreen_sim"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bluegreen_sim"))
    return found


def _model_modules() -> list[Path]:
    return sorted(
        p for room in ("aws", "engine", "scenario") for p in (PACKAGE / room).rglob("*.py")
    )


@pytest.mark.parametrize("path", _model_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_model_never_imports_analysis_plots_or_the_cli(path: Path) -> None:
    bad = sorted(
        name
        for name in _imports(path)
        for room in FORBIDDEN_FOR_MODEL
        if name == f"bluegreen_sim.{room}" or name.startswith(f"bluegreen_sim.{room}.")
    )
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "scenario").rglob("*.py")), ids=lambda p: p.name)
def test_the_scenario_imports_nothing_else_of_the_package(path: Path) -> None:
    outside = sorted(n for n in _imports(path) if not n.startswith("bluegreen_sim.scenario"))
    assert not outside, f"scenario/{path.name} imports {outside}"


def test_the_import_checker_sees_relative_imports() -> None:
    # The checks above are only as good as this: a relative import resolves to its full name.
    names = _imports(PACKAGE / "engine" / "simulation.py")
    assert "bluegreen_sim.aws.alb" in names
    assert "bluegreen_sim.results.result" in names


@pytest.mark.parametrize(
    "folder",
    sorted(p.parent for p in PACKAGE.rglob("__init__.py") if "__pycache__" not in p.parts),
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_every_folder_says_what_it_holds(folder: Path) -> None:
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc and len(doc.split()) >= 8, f"{folder.name}/__init__.py needs a docstring"


def test_every_module_starts_with_a_docstring() -> None:
    missing = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts and not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert not missing, missing

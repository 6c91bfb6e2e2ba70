"""The figures docs/lessons.md quotes are the figures the lessons print.

Every figure on that page that a reader might check is wrapped in a marker::

    <!-- pin 06-blast-radius-all-at-once.yaml requests_failed -->446<!-- /pin -->
    <!-- pin 13-cold-start-slow-start.yaml requests_failed --set k=v -->9,151<!-- /pin -->

This test finds every marker, runs each (lesson, overrides) once through the command line
(``bluegreen-sim run FILE [--set ...] --json``, the file's seed) and compares the summary's
value with the figure as printed, to the figure's own precision: ``87 s`` is
``round(time_to_detect_s) == 87``, ``$0.251`` is ``round(cost_usd, 3)``, ``4 %`` a fraction
in percent, ``6m22s`` and ``60 min`` durations, ``16,000+`` a lower bound. Whoever changes what
a lesson does changes the page in the same commit, or this fails and says which figure.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from bluegreen_sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "lessons.md"
PIN = re.compile(
    r"<!-- pin (?P<file>\S+) (?P<key>\w+)(?P<sets>(?: --set \S+)*) -->(?P<fig>.*?)<!-- /pin -->"
)


def pins() -> list[tuple[str, tuple[str, ...], str, str]]:
    found = []
    for m in PIN.finditer(PAGE.read_text(encoding="utf-8")):
        sets = tuple(m["sets"].split(" --set ")[1:])
        found.append((m["file"], sets, m["key"], m["fig"]))
    return found


def expected(figure: str) -> tuple[float, int, str]:
    """(value, decimals, kind) of a printed figure; kind is "=", ">=" or "%"."""
    text = figure.strip().replace(",", "").lstrip("$")
    kind = "="
    if text.endswith("+"):
        kind, text = ">=", text[:-1]
    if text.endswith("%"):
        kind, text = "%", text[:-1].strip()
    m = re.fullmatch(r"(?:(\d+)m)?(\d+)s", text.replace(" ", ""))
    if m and "m" in text and "ms" not in text:
        return int(m[1] or 0) * 60 + int(m[2]), 0, kind
    for unit, scale in ((" min", 60), (" ms", 1), (" s", 1)):
        if text.endswith(unit):
            number = text[: -len(unit)]
            decimals = len(number.partition(".")[2])
            return float(number) * scale, decimals, kind
    return float(text), len(text.partition(".")[2]), kind


def run_json(file: str, sets: tuple[str, ...]) -> dict:
    argv = ["run", str(ROOT / "scenarios" / file), "--json"]
    for item in sets:
        argv += ["--set", item]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(argv) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_the_page_has_pins_for_every_numbered_lesson() -> None:
    files = {p[0] for p in pins()}
    numbered = {p.name for p in (ROOT / "scenarios").glob("[0-9]*.yaml")}
    # 02 and 03 are told relative to 01 ("5 min longer"), pinned by tests/test_lessons.py
    assert numbered - files <= {"02-canary-healthy.yaml", "03-linear-healthy.yaml"}


@pytest.mark.parametrize(
    ("file", "sets"),
    sorted({(p[0], p[1]) for p in pins()}),
    ids=lambda v: v if isinstance(v, str) else " ".join(v) or "as is",
)
def test_pinned_figures_match_a_run(file: str, sets: tuple[str, ...]) -> None:
    summary = run_json(file, sets)
    wrong = []
    for f, s, key, figure in pins():
        if (f, s) != (file, sets):
            continue
        value, decimals, kind = expected(figure)
        actual = summary[key]
        if kind == "%":
            ok = round(actual * 100, decimals) == value
        elif kind == ">=":
            ok = actual >= value
        else:
            ok = round(actual, decimals) == value
        if not ok:
            wrong.append(f"{key}: the page says {figure!r}, the run gives {actual!r}")
    assert wrong == [], f"docs/lessons.md, {file} {' '.join(sets)}"


def test_figure_parsing() -> None:
    assert expected("6m22s") == (382, 0, "=")
    assert expected("87 s") == (87.0, 0, "=")
    assert expected("60 min") == (3600.0, 0, "=")
    assert expected("$0.251") == (0.251, 3, "=")
    assert expected("4 %") == (4.0, 0, "%")
    assert expected("16,000+") == (16000.0, 0, ">=")
    assert expected("257 ms") == (257.0, 0, "=")

"""Long runs and interrupts: a progress line on a terminal, one line on Ctrl-C, resumes told.

A run shows a progress line on stderr when stderr is a terminal (tqdm, after two seconds;
here the delay is set to 0 and stderr is a fake terminal) and nothing otherwise, and drawing it
does not change the results. A sweep resumed from its ``--out`` says so on stderr in one line,
terminal or not. Ctrl-C on a Dask sweep saves what finished and prints one line: no worker
tracebacks (a real process group receives SIGINT, as from a terminal).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluegreen_sim.cli import main
from bluegreen_sim.cli import run as run_module

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """\
name: small
duration: 3m
load: {rps: 30}
service: {tasks: 2, startup: {distribution: constant, value: 10s}}
green: {error_rate: 0.05}
deployment: {controller: steps, start: 30s, steps: [{weight: 20, pause: 1m}, {weight: 100}]}
"""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(argv: list[str], stderr: io.StringIO) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return code, out.getvalue()


def test_a_progress_line_on_a_terminal_only(tmp_path, monkeypatch) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO)
    monkeypatch.setattr(run_module, "PROGRESS_DELAY_S", 0.0)
    terminal = _Terminal()
    code, shown = _run(["run", str(path), "--json"], terminal)
    assert code == 0
    line = terminal.getvalue()
    # (later updates are throttled by tqdm, so how many show depends on the machine's speed)
    assert line.startswith("\rsimulating 0/180 simulated seconds |")
    assert line.endswith(" \r")  # cleared when the run ends: the story starts on a clean line
    plain = io.StringIO()
    code, hidden = _run(["run", str(path), "--json"], plain)
    assert code == 0 and plain.getvalue() == ""
    assert json.loads(shown) == json.loads(hidden)  # the progress line changes nothing


def _sweep_files(tmp_path: Path, replications: int) -> Path:
    (tmp_path / "base.yaml").write_text(SCENARIO)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "scenario: base.yaml\n"
        "grid: {green.error_rate: [0.01, 0.1]}\n"
        f"replications: {replications}\n"
        "entropy: 11\n"
    )
    return sweep


def test_a_resumed_sweep_says_so_without_a_terminal(tmp_path) -> None:
    sweep = _sweep_files(tmp_path, 2)
    out = tmp_path / "runs.csv"
    first = io.StringIO()
    code, _ = _run(["sweep", str(sweep), "--out", str(out)], first)
    assert code == 0 and "resuming" not in first.getvalue()
    again = io.StringIO()
    code, _ = _run(["sweep", str(sweep), "--out", str(out)], again)
    assert code == 0
    assert again.getvalue().splitlines() == [
        f"sweep: resuming {out} (entropy 11): 4 of 4 runs already saved, 0 to run"
    ]


def test_ctrl_c_on_a_dask_sweep_saves_and_prints_one_line(tmp_path) -> None:
    pytest.importorskip("dask.distributed")
    pytest.importorskip("pyarrow")
    sweep = _sweep_files(tmp_path, 40)
    out = tmp_path / "runs.parquet"
    parts = tmp_path / "runs.parquet.parts"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["sweep", str(sweep), "--backend", "dask", "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_sim", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: SIGINT reaches the workers too
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and len(list(parts.glob("part-*"))) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sweep: stopped; ") and "run the same sweep again to resume" in err
    assert "Traceback" not in err
    saved = int(lines[0].split()[2])
    assert saved >= 2 and len(list(parts.glob("part-*"))) >= 2

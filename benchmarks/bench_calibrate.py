"""How fast ``calibrate`` reads ALB access logs, and how much memory it needs.

Generates a plain access log of about a million lines (the 2024 entry format, ~600 bytes a
line, two target groups) in blocks, then, each in a fresh process so that peak memory is the
reader's alone:

* parses it (``read_access_logs``): lines per second and peak resident memory;
* parses it listed twice (twice the lines): memory must stay about the same (bounded);
* runs the whole ``calibrate`` (parse + fits + report).

Usage::

    python benchmarks/bench_calibrate.py [--lines 1000000] [--log PATH] [--chunksize 200000]

``--log`` keeps (or reuses) the generated file. The target of issue 12 is 300,000 lines per
second on 2 cores for plain files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(path: Path, lines: int) -> int:
    from bluegreen_sim.interop.logs.synthetic import SyntheticTraffic, generate_lines

    block_s = 2000.0  # 100,000 lines at 50 req/s
    rps = 50.0
    written = 0
    start = 1_796_032_800  # 2026-11-30T10:00:00Z
    with open(path, "w", encoding="utf-8") as fh:
        i = 0
        while written < lines:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * block_s))
            spec = SyntheticTraffic(
                rps=rps,
                duration=block_s,
                start=stamp,
                groups={"blue-tg": 0.9, "green-tg": 0.1},
                targets_per_group=8,
                clients=5000,
                seed=i,
            )
            block = generate_lines(spec)
            block = block.iloc[: lines - written]
            fh.write("\n".join(block.tolist()) + "\n")
            written += len(block)
            i += 1
    return written


def _peak_mb() -> float:
    """Peak resident memory of this process in MB: VmHWM (ru_maxrss on Linux carries the
    parent's peak across fork and exec, which would count the generator's memory)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(mode: str, paths: list[str], chunksize: int) -> None:
    """Runs in a fresh process: prints one JSON line of figures."""
    from bluegreen_sim.interop.logs import calibrate
    from bluegreen_sim.interop.logs.accesslog import read_access_logs

    base = _peak_mb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    if mode == "parse":
        data = read_access_logs([Path(p) for p in paths], chunksize=chunksize, progress=False)
        lines = data.lines
    else:
        _, report = calibrate(paths, progress=False)
        lines = report.sources["lines"]
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak = _peak_mb()
    print(
        json.dumps(
            {"lines": lines, "seconds": seconds, "cpu_s": cpu, "baseline_mb": base, "peak_mb": peak}
        )
    )


def _measure(mode: str, paths: list[Path], chunksize: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--chunksize",
            str(chunksize),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--log", type=Path, default=None, help="keep or reuse the log here")
    parser.add_argument("--chunksize", type=int, default=200_000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.paths, args.chunksize)
        return
    tmp = None
    path = args.log
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-calibrate-")
        path = Path(tmp.name) / "alb.log"
    try:
        if not path.exists():
            t0 = time.perf_counter()
            n = generate(path, args.lines)
            print(
                f"generated {n:,} lines ({path.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - t0:.0f} s: {path}"
            )
        size_mb = path.stat().st_size / 1e6
        print(
            f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}; "
            f"chunksize {args.chunksize:,}"
        )
        for label, mode, paths in (
            ("parse", "parse", [path]),
            ("parse x2", "parse", [path, path]),
            ("calibrate", "calibrate", [path]),
        ):
            r = _measure(mode, paths, args.chunksize)
            rate = r["lines"] / r["seconds"]
            mb_s = size_mb * len(paths) / r["seconds"]
            # per CPU second: what the reader does on a core of its own (one thread), whatever
            # else the machine runs
            print(
                f"{label:10s} {r['lines']:>10,} lines  {r['seconds']:6.2f} s  "
                f"{rate:>10,.0f} lines/s ({r['lines'] / r['cpu_s']:,.0f} per CPU s)  "
                f"{mb_s:5.0f} MB/s  peak RSS {r['peak_mb']:4.0f} MB "
                f"(after imports {r['baseline_mb']:.0f} MB)"
            )
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()

"""Make the sample ALB access log of lesson 22 and calibrate the lesson's workload from it.

Run from the repository root::

    python scenarios/logs/make_sample_log.py

It writes ``scenarios/logs/sample-alb.log.gz``: 25 minutes of a shop's traffic as an ALB
writes it (the 2024 entry format, 30 fields), generated with known parameters:

* Poisson arrivals at 30 requests/s from 500 clients;
* target_processing_time lognormal, median 60 ms, sigma 0.6 (p99 about 243 ms);
* 0.5 % of requests answered 5XX by the target, 0.05 % ELB 502 (the target reset the
  connection: ``-1`` times, no target status);
* one target group, ``shop-blue``, of 6 targets; HTTP, HTTPS and HTTP/2 entries.

Then it runs ``bluegreen-sim calibrate`` on it, which writes ``sample-workload.yaml`` with its
``sample-workload.trace.csv`` and ``sample-workload.latency.csv``; lesson 22 uses those. The
output is the same bytes on every run (fixed seed; gzip without a time stamp).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository's package, not an installed one

from bluegreen_sim.interop.logs import calibrate  # noqa: E402
from bluegreen_sim.interop.logs.synthetic import SyntheticTraffic, write_log  # noqa: E402

SAMPLE = SyntheticTraffic(
    rps=30.0,
    duration=1500.0,
    start="2026-11-30T14:00:00Z",
    median_s=0.060,
    sigma=0.6,
    target_5xx=0.005,
    elb_502=0.0005,
    groups={"shop-blue": 1.0},
    targets_per_group=6,
    clients=500,
    version="2024",
    seed=2026,
)


def main() -> None:
    log = HERE / "sample-alb.log.gz"
    n = write_log(log, SAMPLE)
    print(
        f"wrote {log.relative_to(Path.cwd()) if log.is_relative_to(Path.cwd()) else log}: "
        f"{n} entries, {log.stat().st_size / 1e6:.2f} MB"
    )
    _, report = calibrate([log], out=HERE / "sample-workload.yaml", progress=False)
    print(report)


if __name__ == "__main__":
    main()

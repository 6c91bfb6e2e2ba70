"""The calibration report: what was derived from the logs, with its evidence and caveats.

A :class:`CalibrationReport` is plain data (``to_dict()`` is JSON-ready) and prints as a short
text a reader can check line by line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def group_name(arn: str) -> str:
    """``arn:...:targetgroup/blue-tg/73e2...`` -> ``blue-tg`` (``-``: no target group)."""
    if "targetgroup/" in arn:
        return arn.split("targetgroup/", 1)[1].split("/", 1)[0]
    return arn


@dataclass
class CalibrationReport:
    """Everything ``calibrate`` derived, each value with its evidence.

    Attributes:
        sources: files read, lines, entries, skipped lines, entry types, field versions, span.
        arrivals: mean and peak rate, the trace, the diurnal fit, the dispersion check, clients.
        service: observed target times, the parametric fits, the utilisation the model assumes.
        errors: per target group, target 5XX and ELB 502/503/504 rates with 95 % intervals.
        targets: per target group, how many targets served at once.
        cloudwatch: the series read from exports, and what was derived or cross-checked.
        notes: caveats, in plain words.
        workload: the workload fragment (the same dict ``calibrate`` returns).
        trace: the rate over time (``time_s``, ``rps``), written next to the workload.
        latency_ms: the empirical service-time quantiles, written next to the workload.
        latency_sample_s: the random sample of observed target times (for ``--check``).
        check: observed against simulated, when ``--check`` ran.
        files_written: the workload and CSV files written (with ``out``).
    """

    sources: dict[str, Any] = field(default_factory=dict)
    arrivals: dict[str, Any] = field(default_factory=dict)
    service: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)
    cloudwatch: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    workload: dict[str, Any] = field(default_factory=dict)
    trace: pd.DataFrame | None = field(default=None, repr=False)
    latency_ms: np.ndarray | None = field(default=None, repr=False)
    latency_sample_s: np.ndarray | None = field(default=None, repr=False)
    observed_per_minute: pd.Series | None = field(default=None, repr=False)
    check: dict[str, Any] | None = None
    files_written: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (no tables; JSON-ready)."""
        keys = "sources arrivals service errors targets cloudwatch notes workload check"
        plain = json.loads(json.dumps({k: getattr(self, k) for k in keys.split()}, default=_plain))
        return _no_nan(plain)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The report as text lines."""
        out: list[str] = []
        s = self.sources
        if s.get("entries"):
            out.append(
                f"Read {s['entries']:,} ALB entries from {len(s['files'])} file(s) "
                f"({s['span_start']} .. {s['span_end']}, {s['duration_s']:.0f} s); "
                f"{s['bad_lines']} line(s) skipped."
            )
            out.append(
                f"  entry types {s['types']}; fields per entry {s['field_versions']}; "
                f"arrival time from '{s['arrival_field']}'."
            )
        cw = self.cloudwatch
        if cw.get("series"):
            out.append(f"Read CloudWatch series: {', '.join(cw['series'])}.")
        a = self.arrivals
        if a:
            out.append("Arrivals")
            out.append(
                f"  mean {a['mean_rps']:.2f} req/s, busiest minute {a['peak_minute_rps']:.2f} "
                f"req/s; trace of {a['trace_rows']} rows of {a['trace_width_s']} s."
            )
            d = a.get("diurnal")
            if d:
                out.append(
                    f"  diurnal fit: rps {d['rps']}, amplitude {d['amplitude']}, phase "
                    f"{d['phase']:.0f} s, period 1 day (R^2 {d['r2']} over {d['hours']} hours)."
                )
            else:
                out.append(f"  diurnal fit: {a.get('diurnal_reason', 'not made')}.")
            disp = a.get("dispersion")
            if disp and disp.get("index") is not None:
                out.append(
                    f"  index of dispersion within minutes {disp['index']} "
                    f"(Poisson: 1 +- {disp['se']}, z = {disp['z']} over {disp['minutes']} "
                    f"minutes): {disp['verdict']}."
                )
            c = a.get("clients")
            if c and c.get("clients"):
                out.append(
                    f"  {c['clients']:,} client IPs; requests per client mean "
                    f"{c['requests_per_client_mean']}, median {c['requests_per_client_median']}, "
                    f"p90 {c['requests_per_client_p90']}; top 1 % of clients send "
                    f"{c['top_1pct_share']:.0%}."
                )
        v = self.service
        if v:
            out.append("Service time (target_processing_time)")
            obs = v.get("observed_ms")
            if obs:
                out.append(
                    f"  observed over {v['n']:,} answered requests of '{v['group']}': "
                    f"p50 {obs['p50']:.1f} ms, p90 {obs['p90']:.1f} ms, p99 {obs['p99']:.1f} ms, "
                    f"mean {obs['mean']:.1f} ms."
                )
            fits = v.get("fits", {})
            for name, f in fits.get("fits", {}).items():
                mark = "  <- best" if name == fits.get("best") else ""
                extra = (
                    f" (median {f['median_s'] * 1000:.1f} ms, sigma {f['sigma']:.3f})"
                    if name == "lognormal"
                    else f" (shape {f['shape']:.3f}, scale {f['scale_s'] * 1000:.1f} ms)"
                )
                out.append(f"  {name:9s} KS D = {f['D']:.4f}{extra}{mark}")
            if fits.get("D_expected"):
                out.append(
                    f"  (a true model's D is about {fits['D_expected']:.4f} on "
                    f"{fits['n_fitted']:,} values)"
                )
            u = v.get("utilisation")
            if u:
                out.append(
                    f"  the model uses '{v['model']}'; per task {u['rps_per_task']:.2f} req/s x "
                    f"{u['mean_s'] * 1000:.1f} ms = {u['load_per_task']:.2f} busy slots; with "
                    f"concurrency {u['concurrency']} utilisation {u['utilisation']:.0%}, "
                    f"P(wait) {u['p_wait']:.3f}."
                )
        if self.errors:
            out.append("Errors (95 % intervals)")
            for g, e in self.errors.items():
                out.append(
                    f"  {g}: {e['requests']:,} requests ({e['share']:.1%}); target 5XX "
                    f"{_pct(e['target_5xx'])}; ELB 502 {_pct(e['elb_502'])}, "
                    f"503 {_pct(e['elb_503'])}, 504 {_pct(e['elb_504'])}; "
                    f"no target answer {e['no_response']}."
                )
        for g, t in self.targets.items():
            if t.get("targets"):
                out.append(
                    f"Targets of {g}: {t['targets']} at once (median over "
                    f"{t['window_minutes']}-minute windows, {t['min']}..{t['max']}); "
                    f"{t['distinct']} distinct."
                )
        if cw.get("period_s"):
            out.append(f"From CloudWatch ({cw['period_s']:.0f}-second periods)")
            svc = cw.get("service", {})
            if svc.get("fitted"):
                out.append(
                    f"  latency lognormal: median {svc['median_s'] * 1000:.1f} ms, p99 "
                    f"{svc['p99_s'] * 1000:.1f} ms (mean {svc['mean_s'] * 1000:.1f} ms); "
                    f"concurrency {svc['concurrency']}"
                )
            if cw.get("tasks"):
                out.append(f"  healthy targets: {cw['tasks']} (median of HealthyHostCount)")
            for metric, triple in cw.get("errors", {}).items():
                out.append(f"  {metric}: {_pct(triple)} of RequestCount (95 % interval)")
        for note in self.notes:
            out.append(f"Note: {note}")
        if self.check:
            out += self.check.get("lines", [])
        return out


def _pct(triple: list[float] | tuple[float, float, float]) -> str:
    p, lo, hi = triple
    if p != p:  # NaN
        return "n/a"
    return f"{p:.3%} [{lo:.3%}, {hi:.3%}]"


def _no_nan(value: Any) -> Any:
    # NaN (a rate of nothing) is not JSON: None says "no value"
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value)}")

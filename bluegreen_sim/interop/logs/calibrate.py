"""``calibrate``: from the user's ALB access logs and CloudWatch exports to a workload.

The workload is a scenario fragment (``load``, ``service.tasks``, ``service.concurrency``,
``service.latency``, ``service.error_rate``, ``duration``) that is itself a valid scenario with
the defaults for the rest, and merges into any scenario. Its rate trace and empirical latency
are two CSV files written next to it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .accesslog import HIST_EDGES, AccessLogData, read_access_logs
from .cloudwatch_export import CloudWatchData, epoch_seconds, read_cloudwatch_exports
from .errors import CalibrationError
from .files import find_log_files
from .fit import (
    client_population,
    concurrency_for,
    dispersion,
    empirical_quantiles,
    erlang_c,
    fit_diurnal,
    fit_service_time,
    longest_gap,
    rate_trace,
    targets_seen,
    wilson,
)
from .report import CalibrationReport, group_name
from .workload import write_workload

MAX_DURATION = 7 * 86400.0  # the scenario's limit


def calibrate(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    check: bool = False,
    latency: str = "empirical",
    concurrency: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    max_bad_fraction: float = 0.01,
    check_seeds: int = 3,
    check_duration: float = 3600.0,
    plot: str | os.PathLike | None = None,
) -> tuple[dict[str, Any], CalibrationReport]:
    """Fit a workload to ALB access logs and/or CloudWatch exports.

    Args:
        paths: log files (plain or ``.gz``), folders laid out as in S3, CloudWatch JSON exports.
        out: write the workload YAML here, with ``<stem>.trace.csv`` and ``<stem>.latency.csv``
            beside it (nothing is written when None).
        check: also run the simulator on the fitted workload and compare (``report.check``).
        latency: ``empirical`` (the observed quantiles) or ``lognormal`` (the fitted one).
        concurrency: requests a task serves at once in the model (default: enough that the
            model's queue adds a wait to at most 1 % of requests).
        seed: seed of the latency sample and of the check's runs.
        progress: progress bar while parsing (default: on a terminal).
        max_bad_fraction: refuse when more than this share of lines are not ALB entries.
        check_seeds: replications of the check.
        check_duration: the check simulates at most this many seconds of the trace.
        plot: where the check draws its figure (default ``<out stem>.check.png`` with ``out``).

    Returns:
        (workload, report): the workload fragment as a dict, and a
        :class:`~bluegreen_sim.interop.logs.report.CalibrationReport`.

    Raises:
        CalibrationError: an input that cannot be used (one line: the file and what was
            expected).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise CalibrationError("calibrate: expected at least one log file, folder or export")
    if latency not in ("empirical", "lognormal"):
        raise CalibrationError(f"latency: expected 'empirical' or 'lognormal', got {latency!r}")
    logs, jsons = find_log_files(paths)
    if not logs and not jsons:
        raise CalibrationError(
            f"{paths[0]}: no access logs (*.log, *.log.gz) or CloudWatch exports (*.json) found"
        )
    cw = read_cloudwatch_exports(jsons) if jsons else None
    report = CalibrationReport()
    if logs:
        data = read_access_logs(
            logs, max_bad_fraction=max_bad_fraction, progress=progress, seed=seed
        )
        _from_logs(data, report, latency, concurrency, seed)
        if cw is not None:
            _cross_check(cw, data, report)
    else:
        _from_cloudwatch(cw, report, concurrency)
    workload = report.workload
    if out is not None:
        report.files_written = [str(p) for p in write_workload(report, out)]
    if check:
        from .check import run_check

        if report.latency_sample_s is None:
            raise CalibrationError(
                f"{paths[0]}: --check compares with access logs; CloudWatch exports alone "
                "hold no per-request latencies"
            )
        if plot is None and out is not None:
            plot = Path(out).with_suffix(".check.png")
        run_check(report, seeds=check_seeds, max_duration=check_duration, seed=seed, plot=plot)
    return workload, report


# --------------------------------------------------------------------------------------------
# From access logs


def _from_logs(
    data: AccessLogData,
    report: CalibrationReport,
    latency: str,
    concurrency: int | None,
    seed: int,
) -> None:
    start, end = data.start, data.end
    duration = end - start
    report.sources = {
        "files": data.files,
        "lines": data.lines,
        "entries": data.entries,
        "bad_lines": data.bad_lines,
        "bad_examples": data.bad_examples,
        "types": data.types,
        "field_versions": {str(k): v for k, v in sorted(data.field_counts.items())},
        "arrival_field": data.arrival_field,
        "span_start": pd.Timestamp(start, unit="s", tz="UTC").isoformat(),
        "span_end": pd.Timestamp(end, unit="s", tz="UTC").isoformat(),
        "duration_s": duration,
    }
    if data.arrival_field == "time":
        report.notes.append(
            "these logs have no request_creation_time: arrivals are timed by the response "
            "(field 'time'), which shifts each by its response time"
        )
    # arrivals
    trace, width = rate_trace(data.per_second)
    per_minute_all = data.per_minute.groupby("minute")["requests"].sum()
    report.trace = trace
    report.observed_per_minute = per_minute_all
    arrivals: dict[str, Any] = {
        "mean_rps": data.entries / duration,
        "peak_minute_rps": float(per_minute_all.max() / 60.0),
        "trace_width_s": width,
        "trace_rows": len(trace),
        "dispersion": dispersion(data.per_second),
        "clients": client_population(data.clients),
    }
    gap_start, gap = longest_gap(data.per_second)
    if gap >= 600:
        when = pd.Timestamp(gap_start, unit="s", tz="UTC").isoformat()
        report.notes.append(
            f"no entry for {gap / 60:.0f} minutes from {when}: missing log files, or no "
            "traffic; the trace holds zero requests there"
        )
    diurnal = fit_diurnal(data.per_second, start)
    arrivals["diurnal"] = diurnal
    if diurnal is None:
        arrivals["diurnal_reason"] = f"not made: the logs span {duration / 3600:.1f} h (< 1 day)"
    report.arrivals = arrivals
    # target groups: the one with most traffic is the service; a weighted listener logs both
    totals = {g: s.requests for g, s in data.groups.items()}
    main = max(totals, key=totals.get)
    answered = {g: s.target_answered for g, s in data.groups.items()}
    if answered[main] == 0 and any(answered.values()):
        main = max(answered, key=answered.get)
    n_all = sum(totals.values())
    label = _labels(list(data.groups))
    for g, s in sorted(data.groups.items(), key=lambda kv: -kv[1].requests):
        report.errors[label[g]] = {
            "requests": s.requests,
            "share": s.requests / n_all,
            "target_5xx": wilson(s.target_5xx, s.target_answered),
            "elb_502": wilson(s.elb_502, s.requests),
            "elb_503": wilson(s.elb_503, s.requests),
            "elb_504": wilson(s.elb_504, s.requests),
            "elb_5xx": wilson(s.elb_5xx, s.requests),
            "elb_502_503_504": wilson(s.elb_502 + s.elb_503 + s.elb_504, s.requests),
            "no_response": s.no_response,
        }
        report.targets[label[g]] = targets_seen(data.targets, data.per_minute, g)
    if len([g for g in totals if totals[g] > 0 and g != "-"]) > 1:
        report.notes.append(
            "more than one target group answered (a weighted blue/green listener, or several "
            f"rules): the workload uses '{label[main]}', the busiest; the others are "
            "reported above"
        )
    # service time
    stats = data.groups[main]
    sample = stats.sample
    if len(sample) < 20:
        raise CalibrationError(
            f"{data.files[0]}: only {len(sample)} requests with a target_processing_time; "
            "expected at least 20 answered requests to fit a service time"
        )
    fits = fit_service_time(sample, seed=seed)
    mean_s = float(np.mean(sample))
    ntargets = report.targets[label[main]].get("targets") or 1
    rps_main = stats.requests / duration
    load = rps_main / ntargets * mean_s
    conc = concurrency if concurrency is not None else concurrency_for(load)
    p_wait = erlang_c(conc, load)
    report.latency_ms = empirical_quantiles(sample)
    report.latency_sample_s = np.asarray(sample)
    report.service = {
        "group": label[main],
        "n": int(stats.hist.sum()),
        "observed_ms": _observed_quantiles(stats.hist, sample),
        "fits": fits,
        "model": latency,
        "utilisation": {
            "rps_per_task": rps_main / ntargets,
            "mean_s": mean_s,
            "load_per_task": load,
            "concurrency": conc,
            "utilisation": load / conc,
            "p_wait": p_wait,
        },
    }
    report.notes.append(
        "target_processing_time includes any queueing inside the target; it is taken as the "
        f"service time, which holds while the model's own queue adds little: at utilisation "
        f"{load / conc:.0%} with concurrency {conc}, about {p_wait:.1%} of requests wait"
    )
    if stats.no_response:
        report.notes.append(
            f"{stats.no_response} request(s) got no answer from a target (-1 times): they are "
            "left out of the service time and counted in the ELB errors"
        )
    target_5xx = report.errors[label[main]]["target_5xx"][0]
    lat: dict[str, Any]
    if latency == "lognormal" and "lognormal" not in fits["fits"]:
        report.notes.append(
            "the lognormal fit failed on these times: the workload uses the empirical distribution"
        )
        latency = report.service["model"] = "empirical"
    if latency == "lognormal":
        ln = fits["fits"]["lognormal"]
        lat = {
            "distribution": "lognormal",
            "median": round(ln["median_s"], 6),
            "p99": round(ln["p99_s"], 6),
        }
    else:
        lat = {"distribution": "empirical", "file": "latency.csv"}
    report.workload = {
        "name": "calibrated",
        "description": (
            f"Workload calibrated from {data.entries:,} ALB access log entries "
            f"({report.sources['span_start']} .. {report.sources['span_end']})"
        ),
        "duration": float(min(max(duration, 1.0), MAX_DURATION)),
        "load": {
            "pattern": "trace",
            "rps": round(arrivals["mean_rps"], 4),
            "trace": "trace.csv",
        },
        "service": {
            "tasks": int(ntargets),
            "concurrency": int(conc),
            "latency": lat,
            "error_rate": round(float(target_5xx if target_5xx == target_5xx else 0.0), 6),
        },
    }
    if duration > MAX_DURATION:
        report.notes.append("the logs span more than 7 days: the workload's duration is 7 days")


def _labels(arns: list[str]) -> dict[str, str]:
    """Short names of target groups: the name, with the region when two share a name."""
    names = {a: group_name(a) for a in arns}
    counts = pd.Series(list(names.values())).value_counts()
    return {
        a: f"{n} ({a.split(':')[3]})" if counts[n] > 1 and a.count(":") >= 5 else n
        for a, n in names.items()
    }


def _observed_quantiles(hist: np.ndarray, sample: np.ndarray) -> dict[str, float]:
    cum = np.cumsum(hist) / max(1, hist.sum())
    upper = HIST_EDGES[1:]
    q = {f"p{int(p * 100)}": float(upper[np.searchsorted(cum, p)] * 1000) for p in (0.5, 0.9, 0.99)}
    # the histogram's bins are 1.2 % wide: the sample's exact quantiles where it is large enough
    if len(sample) >= 1000:
        q = {k: float(np.quantile(sample, int(k[1:]) / 100) * 1000) for k in q}
    q["mean"] = float(np.mean(sample) * 1000)
    return q


def _cross_check(cw: CloudWatchData, data: AccessLogData, report: CalibrationReport) -> None:
    report.cloudwatch["series"] = [f"{m}:{s}" for m, s in cw.series]
    rc = cw.get("RequestCount", "Sum")
    if rc is None:
        return
    t = epoch_seconds(rc.index)
    period = cw.period("RequestCount", "Sum")
    inside = (t >= data.start) & (t + period <= data.end)
    if not inside.any():
        report.notes.append("the CloudWatch RequestCount does not overlap the logs' time span")
        return
    cw_total = float(rc[inside].sum())
    sec = data.per_second
    lo, hi = t[inside].min(), t[inside].max() + period
    log_total = float(sec[(sec.index >= lo) & (sec.index < hi)].sum())
    report.cloudwatch["request_count_cloudwatch"] = cw_total
    report.cloudwatch["request_count_logs"] = log_total
    report.notes.append(
        f"CloudWatch counts {cw_total:,.0f} requests where the logs hold {log_total:,.0f} "
        f"({log_total / cw_total:.1%}): a low share means missing log files"
    )


# --------------------------------------------------------------------------------------------
# From CloudWatch alone


def _from_cloudwatch(cw: CloudWatchData, report: CalibrationReport, concurrency: int | None):
    report.cloudwatch["series"] = [f"{m}:{s}" for m, s in cw.series]
    rc = cw.get("RequestCount", "Sum")
    if rc is None or rc.empty:
        raise CalibrationError(
            f"{cw.files[0]}: no RequestCount Sum series; expected an export of the ALB metric "
            "RequestCount with the Sum statistic"
        )
    period = cw.period("RequestCount", "Sum")
    t0 = rc.index[0]
    secs = (rc.index - t0).total_seconds().to_numpy()
    full = np.arange(0, secs[-1] + period, period)
    counts = pd.Series(rc.to_numpy(), index=secs).reindex(full, fill_value=0.0)
    duration = float(len(full) * period)
    trace = pd.DataFrame({"time_s": full, "rps": counts.to_numpy() / period})
    report.trace = trace
    report.observed_per_minute = None
    epoch = int(t0.timestamp())
    per_second = pd.Series(counts.to_numpy(), index=(full + epoch).astype(np.int64))
    diurnal = fit_diurnal(per_second, epoch) if duration >= 86400 else None
    total = float(rc.sum())
    report.sources = {
        "files": cw.files,
        "entries": 0,
        "duration_s": duration,
        "span_start": t0.isoformat(),
    }
    report.arrivals = {
        "mean_rps": total / duration,
        "peak_minute_rps": float(trace["rps"].max()),
        "trace_width_s": int(period),
        "trace_rows": len(trace),
        "diurnal": diurnal,
        "diurnal_reason": "not made: the export spans less than 1 day",
        "dispersion": {"index": None, "verdict": "needs access logs (per-second counts)"},
    }
    service: dict[str, Any] = {"fitted": False}
    p50 = cw.get("TargetResponseTime", "p50")
    p99 = cw.get("TargetResponseTime", "p99")
    if p50 is not None and p99 is not None and float(p50.median()) < float(p99.median()):
        # medians over periods of the per-period percentiles: an approximation, said in notes
        lat = {
            "distribution": "lognormal",
            "median": round(float(p50.median()), 6),
            "p99": round(float(p99.median()), 6),
        }
        report.notes.append(
            "latency from TargetResponseTime p50 and p99 (the median over periods of each "
            "percentile; percentiles of periods do not combine exactly)"
        )
    else:
        lat = None
        report.notes.append(
            "no TargetResponseTime p50 and p99 in the exports: the service latency is not "
            "calibrated (export them, or give access logs)"
        )
    errors = {}
    for metric in (
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_502_Count",
        "HTTPCode_ELB_503_Count",
        "HTTPCode_ELB_504_Count",
        "HTTPCode_ELB_5XX_Count",
    ):
        s = cw.get(metric, "Sum")
        if s is not None:
            errors[metric] = wilson(int(round(float(s.sum()))), int(round(total)))
    report.cloudwatch["errors"] = errors
    hosts = cw.get("HealthyHostCount", "Average")
    tasks = int(max(1, round(float(hosts.median())))) if hosts is not None else None
    workload: dict[str, Any] = {
        "name": "calibrated",
        "description": f"Workload calibrated from CloudWatch exports ({t0.isoformat()} on)",
        "duration": float(min(duration, MAX_DURATION)),
        "load": {"pattern": "trace", "rps": round(total / duration, 4), "trace": "trace.csv"},
        "service": {},
    }
    if tasks is not None:
        workload["service"]["tasks"] = tasks
    if lat is not None:
        workload["service"]["latency"] = lat
        mean_s = lat["median"] * math.exp((math.log(lat["p99"] / lat["median"]) / 2.3263) ** 2 / 2)
        load = total / duration / (tasks or 10) * mean_s
        conc = concurrency if concurrency is not None else concurrency_for(load)
        workload["service"]["concurrency"] = conc
        service.update(
            fitted=True,
            model="lognormal",
            mean_s=mean_s,
            concurrency=conc,
            median_s=lat["median"],
            p99_s=lat["p99"],
        )
    if "HTTPCode_Target_5XX_Count" in errors:
        workload["service"]["error_rate"] = round(errors["HTTPCode_Target_5XX_Count"][0], 6)
    if not workload["service"]:
        del workload["service"]
    report.service = {}
    report.cloudwatch["service"] = service
    report.cloudwatch["tasks"] = tasks
    report.cloudwatch["period_s"] = period
    report.workload = workload

"""Synthetic ALB access logs whose true parameters are known.

Used by the tests (the fit must recover what was put in), the benchmark (a million lines) and the
lesson's sample log. Lines follow the entry format of the ALB User Guide ("Access log entries"),
with as many fields as the chosen version of the format has; generation is vectorised (numpy
and pandas string operations), never one Python call per line.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Number of fields of each documented version of the entry format (newer logs append fields).
FIELD_VERSIONS = {
    "2016": 18,  # ... target_group_arn "trace_id"
    "2017": 20,  # + "domain_name" "chosen_cert_arn"
    "2018": 24,  # + matched_rule_priority request_creation_time "actions_executed" "redirect_url"
    "2018-lambda": 25,  # + "error_reason"
    "2020": 27,  # + "target:port_list" "target_status_code_list"
    "2020-desync": 29,  # + "classification" "classification_reason"
    "2024": 30,  # + conn_trace_id
    "2025": 33,  # + "transformed_host" "transformed_uri" "request_transform_status"
}

ACCOUNT = "123456789012"
REGION = "us-east-2"
ELB = "app/my-loadbalancer/50dc6c495c0c9188"


def target_group_arn(name: str) -> str:
    """A target group ARN as ALB logs write it."""
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/73e2d6bc24d8a067"


@dataclass
class SyntheticTraffic:
    """What the generated log is made of (the truth the calibration should find)."""

    rps: float = 50.0
    duration: float = 600.0
    start: str = "2026-11-30T10:00:00Z"
    median_s: float = 0.080
    sigma: float = 0.5
    target_5xx: float = 0.01
    elb_502: float = 0.0
    groups: dict[str, float] = field(default_factory=lambda: {"blue-tg": 1.0})
    targets_per_group: int = 4
    clients: int = 200
    version: str = "2024"
    diurnal_amplitude: float = 0.0  # relative amplitude of a 1-day sinusoid (0: constant)
    seed: int = 0


def generate_lines(spec: SyntheticTraffic) -> pd.Series:
    """The log lines (a pandas Series of str), in order of the response time."""
    rng = np.random.default_rng(spec.seed)
    t0 = pd.Timestamp(spec.start)
    lam_max = spec.rps * (1 + spec.diurnal_amplitude)
    n = rng.poisson(lam_max * spec.duration)
    arrival = np.sort(rng.random(n) * spec.duration)
    if spec.diurnal_amplitude > 0:
        # thinning: a Poisson process with rate rps * (1 + a sin(2 pi t / 1 day))
        rate = spec.rps * (1 + spec.diurnal_amplitude * np.sin(2 * np.pi * arrival / 86400.0))
        arrival = arrival[rng.random(n) * lam_max < rate]
        n = len(arrival)
    service = spec.median_s * np.exp(spec.sigma * rng.standard_normal(n))
    names = list(spec.groups)
    share = np.array([spec.groups[g] for g in names], dtype=float)
    group = rng.choice(len(names), size=n, p=share / share.sum())
    target = rng.integers(0, spec.targets_per_group, n)
    status = np.where(rng.random(n) < spec.target_5xx, 500, 200)
    elb_fail = rng.random(n) < spec.elb_502
    client = rng.integers(0, spec.clients, n)

    rpt = np.full(n, 0.000)
    tpt = service.copy()
    rspt = np.full(n, 0.000)
    tpt[elb_fail] = -1.0
    rspt[elb_fail] = -1.0
    done = arrival + np.maximum(tpt, 0)
    order = np.argsort(done, kind="stable")

    def col(values) -> pd.Series:
        return pd.Series(values).astype(str)

    created = t0 + pd.to_timedelta(arrival, unit="s")
    answered = t0 + pd.to_timedelta(done, unit="s")
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    tip = "10.0." + col(group + 1) + "." + col(target + 10) + ":8080"
    tip = tip.where(~elb_fail, "-")
    tstat = col(status).where(~elb_fail, "-")
    elb_status = col(np.where(elb_fail, 502, status))
    # one IP per client (the port changes with each connection)
    cip = (
        "198.51."
        + col(client // 250)
        + "."
        + col(client % 250 + 1)
        + ":"
        + col(1024 + rng.integers(0, 60000, n))
    )
    tg = pd.Series(np.array([target_group_arn(g) for g in names], dtype=object)[group]).astype(str)
    kind = pd.Series(np.array(["https", "h2", "http"], dtype=object)[rng.integers(0, 3, n)])
    fmt = lambda x: pd.Series(np.char.mod("%.3f", x))  # noqa: E731
    fmt6 = lambda x: pd.Series(np.char.mod("%.6f", x))  # noqa: E731
    fields = [
        kind,
        pd.Series(answered.strftime(iso)),
        ELB,
        cip,
        tip,
        fmt(rpt),
        fmt6(tpt).str.replace("-1.000000", "-1", regex=False),
        fmt(rspt).str.replace("-1.000", "-1", regex=False),
        elb_status,
        tstat,
        col(rng.integers(100, 900, n)),
        col(rng.integers(200, 20000, n)),
        '"GET https://www.example.com:443/api/items?id='
        + col(rng.integers(1, 999, n))
        + ' HTTP/1.1"',
        '"Mozilla/5.0 (X11; Linux x86_64) curl/8.5.0"',
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLSv1.2",
        tg,
        '"Root=1-58337262-36d228ad5d99923122bbe354"',
        '"www.example.com"',
        f'"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"',
        "0",
        pd.Series(created.strftime(iso)),
        '"forward"',
        '"-"',
        '"-"',
        '"' + tip + '"',
        '"' + tstat + '"',
        '"-"',
        '"-"',
        "TID_1234abcd5678ef90",
        '"-"',
        '"-"',
        '"-"',
    ][: FIELD_VERSIONS[spec.version]]
    line = fields[0].astype(str)
    for f in fields[1:]:
        line = line + " " + (f if isinstance(f, pd.Series) else pd.Series([f] * n))
    return line.iloc[order].reset_index(drop=True)


def write_log(path: str | Path, spec: SyntheticTraffic) -> int:
    """Write a log file (gzip when the name ends in .gz); returns the number of lines."""
    path = Path(path)
    lines = generate_lines(spec)
    text = "\n".join(lines.tolist()) + "\n"
    if path.suffix == ".gz":
        # mtime 0: the same traffic gives the same bytes (a reproducible sample file)
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh,
        ):
            fh.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")
    return len(lines)

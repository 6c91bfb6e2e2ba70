"""The summary table: a run's figures in two columns, as a person reads them.

Failed requests are split the ways a lesson talks about them: by status (500 is the target's
own error; 502, 503 and 504 come from the load balancer: a task stopped with the request, no
target to send it to, the idle timeout) and by revision. ``excess_failed`` is told as what it
means, the failures above blue's own error rate, and as none when it is within the noise of
that rate or green served nobody.
"""

from __future__ import annotations

import math
from typing import Any

from .text import format_clock, format_duration
from .text import num as _num
from .text import paint as _paint

_STATUS_WHO = {
    500: "from the targets",
    502: "from the load balancer (task stopped mid-request)",
    503: "from the load balancer (no target)",
    504: "from the load balancer (idle timeout)",
}


def failed_by_status(s: dict[str, Any]) -> str:
    """``400 × 500 from the targets; 11 × 502 from the load balancer (...)``, or ``none``."""
    parts = [
        f"{s[f'requests_{code}']:,} × {code} {who}"
        for code, who in _STATUS_WHO.items()
        if s.get(f"requests_{code}")
    ]
    return "; ".join(parts) if parts else "none"


def _of(failed: Any, served: Any) -> str:
    if failed is None:
        return "-"
    if not served:
        return f"{failed:,} (served no production request)"
    return f"{failed:,} of {served:,} ({failed / served:.2%})"


def excess_text(s: dict[str, Any]) -> str:
    """``excess_failed`` as a reader understands it.

    The excess is the failures above blue's configured error rate p applied to every request.
    Blue's own failures vary (binomially), so the excess is told with its noise, three standard
    deviations 3·sqrt(n·p·(1−p)): an excess within it could be luck. When green served no user
    the excess cannot be the release's and is said to be none (or, if larger than the noise, a
    failure of something else, such as a dependency both revisions share).
    """
    excess, total, failed = (
        s.get("excess_failed"),
        s.get("requests_total"),
        s.get("requests_failed"),
    )
    if excess is None or not total or failed is None:
        return "-"
    rate = (failed - excess) / total  # blue's configured error rate
    noise = 3 * math.sqrt(total * rate * (1 - rate))
    base = f"blue's {rate:.2%} error rate" if rate else "blue's error rate (0)"
    if not s.get("requests_green"):
        if excess <= noise + 1:
            return f"none (green served no users; failures within {base})"
        return f"{excess:,.0f} above {base}, with green serving no users (not the release)"
    if round(excess) <= 0:
        return f"none (no more failures than {base} predicts)"
    text = f"{excess:,.0f} above {base}"
    return text + (f" (within the noise, ± {noise:,.0f})" if excess <= noise else "")


def summary_table(
    summary: dict[str, Any], color: bool = False, extra: list[tuple[str, str]] | None = None
) -> str:
    """The run's summary as a two-column table a person reads.

    Args:
        summary: ``Result.summary``.
        color: paint the outcome (green for success, red otherwise).
        extra: more ``(label, value)`` rows, after the latency rows (the narration's
            ``overloaded``).
    """
    s = summary
    outcome = str(s.get("outcome"))
    reason = s.get("outcome_reason")
    total = s.get("requests_total") or 0
    failed = s.get("requests_failed")
    share = f" ({failed / total:.2%})" if total and failed is not None else ""
    start, end = s.get("deployment_start_s"), s.get("deployment_end_s")
    if start is not None and end is not None:
        hours = end >= 3600
        deployment = (
            f"{format_clock(start, hours)} → {format_clock(end, hours)} "
            f"({format_duration(s.get('deployment_duration_s'))})"
        )
    elif start is not None:
        deployment = f"started {format_clock(start)}, not finished"
    else:
        deployment = "-"
    requests = _num(total)
    if s.get("test_requests"):
        requests += f" (+ {s['test_requests']:,} test, {s.get('test_requests_failed', 0):,} failed)"
    fired = s.get("alarms_fired") or []
    rows = [
        ("outcome", outcome + (f" ({reason})" if reason else "")),
        ("deployment", deployment),
        ("requests", requests),
        ("failed (5xx)", _num(failed) + share),
        ("failed by status", failed_by_status(s)),
        ("failed on blue", _of(s.get("requests_failed_blue"), s.get("requests_blue"))),
        ("failed on green", _of(s.get("requests_failed_green"), s.get("requests_green"))),
        ("excess failed", excess_text(s)),
        ("time to detect", format_duration(s.get("time_to_detect_s"))),
        (
            "latency p50 / p99",
            f"{_num(s.get('latency_p50_ms'), '.1f', ' ms')} / "
            f"{_num(s.get('latency_p99_ms'), '.1f', ' ms')}",
        ),
        ("worst-minute p99", _num(s.get("worst_minute_p99_ms"), ".1f", " ms")),
        *(extra or []),
        ("peak tasks", _num(s.get("peak_tasks"))),
        ("vCPU-hours", _num(s.get("vcpu_hours"), ".3f")),
        ("GB-hours", _num(s.get("gb_hours"), ".3f")),
        ("cost", "-" if s.get("cost_usd") is None else f"${s['cost_usd']:,.4f}"),
        ("alarms fired", ", ".join(fired) if fired else "none"),
    ]
    if s.get("overrides"):
        rows.append(("overrides", ", ".join(s["overrides"])))
    width = max(len(k) for k, _ in rows)
    title = _paint("Summary", "head", color)
    out = [title, "-" * (width + 2 + max(len(v) for _, v in rows))]
    for key, value in rows:
        if key == "outcome":
            value = _paint(
                value, "good" if outcome in ("SUCCEEDED", "NO_DEPLOYMENT") else "bad", color
            )
        out.append(f"{key:<{width}}  {value}")
    return "\n".join(out)

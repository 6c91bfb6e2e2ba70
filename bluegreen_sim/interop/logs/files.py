"""Which files are access logs, and of which kind: a folder walked as S3 lays it out, and each
file recognised by its first lines (an ALB log, or a CloudFront, Classic or Network Load
Balancer log refused in one line).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

from .errors import CalibrationError

ALB_TYPES = ("http", "https", "h2", "grpcs", "ws", "wss")
MIN_FIELDS = 12  # up to sent_bytes: fewer than this is not an ALB entry
LOG_SUFFIXES = (".log", ".log.gz", ".gz")  # in folders; a file named explicitly may be any
_TOKEN = re.compile(r'"[^"]*"|\S+')
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def find_log_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(access log files, JSON files) named by ``paths``; folders are walked as S3 lays them out
    (``AWSLogs/<account>/elasticloadbalancing/<region>/<yyyy>/<mm>/<dd>/*.log.gz``)."""
    logs: list[Path] = []
    jsons: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if not q.is_file() or q.name.startswith("."):
                    continue
                if q.name.lower().endswith(".json"):
                    jsons.append(q)
                elif q.name.lower().endswith(LOG_SUFFIXES):
                    logs.append(q)
        elif p.is_file():
            (jsons if p.name.lower().endswith(".json") else logs).append(p)
        else:
            raise CalibrationError(f"{p}: no such file or folder")
    return logs, jsons


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return (
        gzip.open(path, "rt", encoding="utf-8", errors="replace")
        if gz
        else open(path, encoding="utf-8", errors="replace")
    )


def sniff(path: Path, lines: int = 50) -> int:
    """The number of fields of the ALB entries of ``path``; refuses other kinds of log in one
    line (CloudFront, Classic Load Balancer, Network Load Balancer)."""
    head: list[str] = []
    try:
        with _open_text(path) as fh:
            for line in fh:
                if line.strip():
                    head.append(line.rstrip("\n"))
                if len(head) >= lines:
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise CalibrationError(f"{path}: cannot read the file ({exc})") from None
    if not head:
        raise CalibrationError(f"{path}: the file is empty; expected ALB access log entries")
    first = head[0]
    if first.startswith(("#Version:", "#Fields:")) or (
        "\t" in first and _ISO.match(first.replace("\t", "T", 1))
    ):
        raise CalibrationError(
            f"{path}: this looks like a CloudFront access log (tab-separated, '#Fields' "
            "header); expected an Application Load Balancer access log"
        )
    counts: dict[int, int] = {}
    kinds = {"alb": 0, "classic": 0, "nlb": 0}
    for line in head:
        tokens = _TOKEN.findall(line)
        if not tokens:
            continue
        if tokens[0] in ALB_TYPES and len(tokens) >= MIN_FIELDS:
            kinds["alb"] += 1
            counts[len(tokens)] = counts.get(len(tokens), 0) + 1
        elif _ISO.match(tokens[0]):
            kinds["classic"] += 1
        elif tokens[0] in ("tls", "tcp", "udp") and len(tokens) > 1 and tokens[1][:1].isdigit():
            kinds["nlb"] += 1
    best = max(kinds, key=kinds.get)
    if kinds[best] == 0 or (best == "alb" and kinds["alb"] < len(head) / 2):
        shown = first if len(first) <= 60 else first[:57] + "..."
        raise CalibrationError(
            f"{path}: not an ALB access log (its first line is {shown!r}); expected entries "
            f"that start with one of {', '.join(ALB_TYPES)}"
        )
    if best == "classic":
        raise CalibrationError(
            f"{path}: this looks like a Classic Load Balancer access log (entries start with "
            "the time, not the request type); expected an Application Load Balancer access log"
        )
    if best == "nlb":
        raise CalibrationError(
            f"{path}: this looks like a Network Load Balancer (TLS) access log; expected an "
            "Application Load Balancer access log"
        )
    return max(counts, key=lambda k: (counts[k], k))

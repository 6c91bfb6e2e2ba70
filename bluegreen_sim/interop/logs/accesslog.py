"""Application Load Balancer access logs, read in chunks into bounded summaries.

The entry format is the ALB User Guide's ("Access log entries"): space-separated fields, some in
double quotes, in this order::

    type time elb client:port target:port request_processing_time target_processing_time
    response_processing_time elb_status_code target_status_code received_bytes sent_bytes
    "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
    "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
    "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
    "classification_reason" conn_trace_id ...

AWS appends fields over the years and tells readers to ignore fields they do not expect, so a
file is read with as many columns as its lines have and only the ones used here are converted.
``-1`` processing times mean the load balancer could not dispatch the request or the target did
not answer; ``-`` stands for a missing target or target status.

Files are read with pandas' C parser, one chunk of lines at a time; each chunk is reduced to
counts per second, per minute and target group, a latency histogram and a bounded random sample,
so memory does not grow with the size of the log. Lines that are not ALB entries are skipped
and counted; past a limit the whole input is refused.
"""

from __future__ import annotations

import gzip
import sys
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CalibrationError
from .files import ALB_TYPES, sniff

_FIELD_NAMES = (
    "type time elb client:port target:port request_processing_time target_processing_time "
    "response_processing_time elb_status_code target_status_code received_bytes sent_bytes "
    "request user_agent ssl_cipher ssl_protocol target_group_arn trace_id domain_name "
    "chosen_cert_arn matched_rule_priority request_creation_time actions_executed redirect_url "
    "error_reason target:port_list target_status_code_list classification classification_reason "
    "conn_trace_id transformed_host transformed_uri request_transform_status"
)
FIELDS = tuple(_FIELD_NAMES.split())
# Columns this reader converts (0-based positions in the entry).
TYPE, TIME, CLIENT, TARGET, REQ_T, TARGET_T, RESP_T, ELB_STATUS, TARGET_STATUS = (
    0,
    1,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
)
TG_ARN, CREATED = 16, 21
COUNTS = (
    "requests",
    "target_answered",
    "target_5xx",
    "no_response",
    "elb_5xx",
    "elb_502",
    "elb_503",
    "elb_504",
    "elb_4xx",
)
USED = (
    TYPE,
    TIME,
    CLIENT,
    TARGET,
    REQ_T,
    TARGET_T,
    RESP_T,
    ELB_STATUS,
    TARGET_STATUS,
    TG_ARN,
    CREATED,
)

# Times outside these years are not an ALB's (Arrow reads "-1" as a year, for instance).
EARLIEST, LATEST = 946_684_800.0, 4_102_444_800.0  # 2000-01-01, 2100-01-01
MAX_SPAN_DAYS = 400  # a longer span is files of unrelated periods (or a garbled time)
SAMPLE_SIZE = 100_000  # latency values kept per target group (a uniform random sample)
HIST_EDGES = np.concatenate(([0.0], np.logspace(-6, 4, 2001)))  # seconds: 1 us .. 3 h


@dataclass
class GroupStats:
    """Counts and latencies of one target group (``-`` when the entry names none)."""

    requests: int = 0
    target_answered: int = 0  # a target status code was logged
    target_5xx: int = 0
    no_response: int = 0  # target_processing_time is -1
    elb_5xx: int = 0
    elb_502: int = 0
    elb_503: int = 0
    elb_504: int = 0
    elb_4xx: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(len(HIST_EDGES) - 1, np.int64))
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))
    _keys: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class AccessLogData:
    """What a set of ALB access logs holds, reduced to bounded summaries."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    entries: int = 0
    bad_lines: int = 0
    bad_examples: list[str] = field(default_factory=list)
    types: dict[str, int] = field(default_factory=dict)
    field_counts: dict[int, int] = field(default_factory=dict)  # fields per entry -> files
    arrival_field: str = "request_creation_time"
    per_second: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.int64))
    groups: dict[str, GroupStats] = field(default_factory=dict)
    per_minute: pd.DataFrame | None = None  # minute, group, requests, target_5xx, elb_5xx
    targets: pd.DataFrame | None = None  # minute, group, target (distinct)
    clients: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.int64))

    @property
    def start(self) -> float:
        return float(self.per_second.index.min()) if len(self.per_second) else float("nan")

    @property
    def end(self) -> float:
        return float(self.per_second.index.max()) + 1 if len(self.per_second) else float("nan")


def read_access_logs(
    files: list[Path],
    *,
    chunksize: int = 200_000,
    max_bad_fraction: float = 0.01,
    progress: bool | None = None,
    seed: int = 0,
) -> AccessLogData:
    """Read ALB access logs into an :class:`AccessLogData`.

    Args:
        files: the log files (plain or gzip), in any order.
        chunksize: lines parsed at once (memory grows with it, not with the log).
        max_bad_fraction: refuse the input when more than this share of its lines are not ALB
            entries (they are skipped and counted below it).
        progress: show a progress bar (default: when stderr is a terminal).
        seed: the seed of the latency sample.

    Raises:
        CalibrationError: a file is not an ALB log, a gzip file is truncated, or too many lines
            are not entries.
    """
    data = AccessLogData()
    acc = _Accumulator(np.random.default_rng(seed))
    sizes = {p: p.stat().st_size for p in files}
    bar = _progress_bar(sum(sizes.values()), progress)
    done = 0
    try:
        for path in files:
            nfields = sniff(path)
            data.files.append(str(path))
            data.field_counts[nfields] = data.field_counts.get(nfields, 0) + 1
            for chunk, position in _chunks(path, nfields, chunksize):
                acc.add(chunk, data)
                if bar is not None:
                    bar.update(done + position - bar.n)
            done += sizes[path]
    finally:
        if bar is not None:
            bar.close()
    acc.finish(data)
    if data.lines == 0 or data.entries == 0:
        raise CalibrationError(f"{files[0] if files else '(no files)'}: no ALB entries found")
    span_days = (data.end - data.start) / 86400
    if span_days > MAX_SPAN_DAYS:
        first = pd.Timestamp(data.start, unit="s", tz="UTC").isoformat()
        last = pd.Timestamp(data.end, unit="s", tz="UTC").isoformat()
        raise CalibrationError(
            f"{', '.join(data.files[:3])}: the entries span {span_days:.0f} days ({first} .. "
            f"{last}); expected at most {MAX_SPAN_DAYS} days: give the files of one period"
        )
    if data.bad_lines > max_bad_fraction * data.lines:
        example = data.bad_examples[0] if data.bad_examples else ""
        example = example if len(example) <= 50 else example[:47] + "..."
        raise CalibrationError(
            f"{', '.join(data.files[:3])}: {data.bad_lines} of {data.lines} lines are not ALB "
            f"access log entries (more than {max_bad_fraction:.0%}; e.g. {example!r}); "
            "expected one entry a line"
        )
    return data


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="parsing", leave=False)


def _chunks(path: Path, nfields: int, chunksize: int) -> Iterator[tuple[pd.DataFrame, int]]:
    """Chunks of ``path`` as frames of the used columns (strings and numbers as parsed), with
    the byte position reached in the file (compressed bytes for gzip)."""
    usecols = [c for c in USED if c < nfields]
    raw = open(path, "rb")  # noqa: SIM115 (closed in finally; the reader holds it)
    try:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        reader = _guarded(
            path,
            lambda: pd.read_csv(
                stream,
                sep=" ",
                quotechar='"',
                header=None,
                names=range(nfields),
                usecols=usecols,
                # a line longer than the file's usual count is cut, not shifted into an index
                index_col=False,
                # numbers are converted by the C parser (fast); '-' is a missing target or status
                keep_default_na=False,
                na_values={
                    c: ["-"] for c in (TARGET, REQ_T, TARGET_T, RESP_T, ELB_STATUS, TARGET_STATUS)
                },
                engine="c",
                chunksize=chunksize,
                on_bad_lines="skip",
                # every byte is a character in latin-1: a stray byte cannot stop the reader, and
                # the fields used here are ASCII (utf-8 with errors="replace" is 3x slower)
                encoding="latin-1",
                skip_blank_lines=True,
            ),
        )
        with reader:
            while True:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        chunk = _guarded(path, lambda: next(reader))
                except StopIteration:
                    return
                yield chunk, raw.tell()
    finally:
        raw.close()


def _guarded(path: Path, step):
    """Run one step of the reader; its failures become one-line refusals."""
    try:
        return step()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CalibrationError(
            f"{path}: the gzip file is truncated or damaged ({exc}); nothing was "
            "used from it: download it again"
        ) from None
    except ValueError as exc:  # pandas' ParserError is one
        raise CalibrationError(f"{path}: cannot parse the log ({exc})") from None


class _Accumulator:
    """Reduces chunks to bounded summaries; merges partial tables every few chunks."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.seconds: list[pd.Series] = []
        self.minutes: list[pd.DataFrame] = []
        self.targets: list[pd.DataFrame] = []
        self.clients: list[pd.Series] = []

    def add(self, chunk: pd.DataFrame, data: AccessLogData) -> None:
        n = len(chunk)
        data.lines += n
        kind = chunk[TYPE]
        created = chunk.get(CREATED)
        when = _seconds(created) if created is not None else None
        if when is None or np.isnan(when).all():
            when = _seconds(chunk[TIME])
            data.arrival_field = "time"
        elif np.isnan(when).any():  # an entry without request_creation_time: its response time
            when = np.where(np.isnan(when), _seconds(chunk[TIME]), when)
        num = {c: _numbers(chunk[c]) for c in (REQ_T, TARGET_T, RESP_T, ELB_STATUS)}
        tstat = _numbers(chunk[TARGET_STATUS])
        # an entry needs its type, a time and a target time (-1 when no target answered); a
        # status may be '-' (a client that left before any response)
        plausible = (when >= EARLIEST) & (when < LATEST)  # NaN compares False
        ok = kind.isin(ALB_TYPES) & plausible & num[TARGET_T].notna()
        bad = int(n - ok.sum())
        if bad:
            data.bad_lines += bad
            if len(data.bad_examples) < 3:
                rows = chunk.loc[~ok].head(3 - len(data.bad_examples))
                data.bad_examples += [
                    " ".join(str(v) for v in r if isinstance(v, str) and v)
                    for r in rows.itertuples(index=False)
                ]
        if not ok.any():
            return
        keep = ok.to_numpy()
        data.entries += int(keep.sum())
        for k, v in kind[keep].value_counts().items():
            data.types[k] = data.types.get(k, 0) + int(v)
        sec = np.floor(when[keep]).astype(np.int64)
        s, c = np.unique(sec, return_counts=True)
        self.seconds.append(pd.Series(c, index=s))
        if TG_ARN in chunk:
            codes, names = pd.factorize(chunk[TG_ARN][keep].fillna("-").replace("", "-"))
        else:
            codes, names = np.zeros(int(keep.sum()), np.int64), pd.Index(["-"])
        tt = num[TARGET_T][keep].to_numpy()
        ts = tstat[keep].to_numpy()
        es = num[ELB_STATUS][keep].to_numpy()
        minute = sec // 60 * 60
        frame = pd.DataFrame(
            {
                "minute": minute,
                "code": codes,
                "requests": np.ones(len(codes), np.int64),
                "target_answered": ~np.isnan(ts),
                "target_5xx": (ts >= 500) & (ts < 600),
                "no_response": tt < 0,
                "elb_5xx": (es >= 500) & (es < 600),
                "elb_502": es == 502,
                "elb_503": es == 503,
                "elb_504": es == 504,
                "elb_4xx": (es >= 400) & (es < 500),
            }
        )
        per_minute = frame.groupby(["minute", "code"], sort=False).sum().reset_index()
        per_minute.insert(1, "group", np.asarray(names, dtype=object)[per_minute.pop("code")])
        self.minutes.append(per_minute.set_index(["minute", "group"]))
        target = chunk[TARGET][keep]
        served = target.notna().to_numpy() & (target != "").to_numpy()
        tcodes, tnames = pd.factorize(target[served])
        seen = pd.DataFrame({"minute": minute[served], "g": codes[served], "t": tcodes})
        seen = seen.drop_duplicates()
        self.targets.append(
            pd.DataFrame(
                {
                    "minute": seen["minute"].to_numpy(),
                    "group": np.asarray(names, dtype=object)[seen["g"].to_numpy()],
                    "target": np.asarray(tnames, dtype=object)[seen["t"].to_numpy()],
                }
            )
        )
        ip = chunk[CLIENT][keep].str.replace(r":\d+$", "", regex=True)
        self.clients.append(ip.value_counts())
        for i, g in enumerate(names):
            sel = (codes == i) & (tt >= 0)
            stats = data.groups.setdefault(str(g), GroupStats())
            values = tt[sel]
            stats.hist += np.histogram(values, HIST_EDGES)[0]
            keys = self.rng.random(len(values))
            stats.sample, stats._keys = _bottom_k(
                np.concatenate((stats.sample, values)), np.concatenate((stats._keys, keys))
            )
        if len(self.minutes) >= 32:
            self._merge()

    def _merge(self) -> None:
        self.seconds = [pd.concat(self.seconds).groupby(level=0).sum()]
        self.minutes = [pd.concat(self.minutes).groupby(level=[0, 1]).sum()]
        self.targets = [pd.concat(self.targets).drop_duplicates()]
        self.clients = [pd.concat(self.clients).groupby(level=0).sum()]

    def finish(self, data: AccessLogData) -> None:
        if not self.minutes:
            return
        self._merge()
        data.per_second = self.seconds[0].sort_index()
        minutes = self.minutes[0].sort_index().reset_index()
        data.per_minute = minutes
        data.targets = self.targets[0].reset_index(drop=True)
        data.clients = self.clients[0].sort_values(ascending=False)
        for g, rows in minutes.groupby("group"):
            stats = data.groups.setdefault(str(g), GroupStats())
            for name in COUNTS:
                setattr(stats, name, int(rows[name].sum()))


def _seconds(col: pd.Series) -> np.ndarray:
    """ISO 8601 times (``2026-11-30T10:00:00.123456Z``) as seconds since 1970 (NaN where a line
    held something else). Arrow's parser when pyarrow is there (7x faster); pandas' when it is
    not, or when a chunk holds a value Arrow refuses."""
    try:
        import pyarrow as pa

        try:
            stamps = pa.array(col, from_pandas=True).cast(pa.timestamp("us", tz="UTC"))
            micros = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
            return np.asarray(micros, dtype=float) / 1e6
        except pa.lib.ArrowException:
            pass
    except ImportError:
        pass
    t = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce")
    micros = t.dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype(np.int64)
    return np.where(t.isna().to_numpy(), np.nan, micros / 1e6)


def _numbers(col: pd.Series) -> pd.Series:
    """A column as numbers (NaN where a line held something else)."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype(float)
    return pd.to_numeric(col, errors="coerce")


def _bottom_k(values: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A uniform random sample of at most SAMPLE_SIZE values: those with the smallest keys."""
    if len(values) <= SAMPLE_SIZE:
        return values, keys
    idx = np.argpartition(keys, SAMPLE_SIZE)[:SAMPLE_SIZE]
    return values[idx], keys[idx]

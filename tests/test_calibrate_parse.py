"""ALB access logs as AWS writes them: every entry type and field version, missing targets,
``-1`` times, gzip and the S3 folder layout; and the inputs that must be refused in one line.

``calibrate_files/alb-documented-entries.log`` holds the example entries of the ALB User Guide
("Access log entries", "Examples"): HTTP, HTTPS, HTTP/2, WebSockets, secured WebSockets, and the
Lambda entries without a target. ``alb-constructed-entries.log`` adds entries built from the
field descriptions: no target to dispatch to (``-1 -1 -1 503 -``), a target that reset the
connection (``-1`` target time, ELB 502), gRPC, and user agents with spaces.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluegreen_sim.cli import main
from bluegreen_sim.interop.logs.accesslog import read_access_logs
from bluegreen_sim.interop.logs.errors import CalibrationError
from bluegreen_sim.interop.logs.files import find_log_files, sniff
from bluegreen_sim.interop.logs.synthetic import FIELD_VERSIONS, SyntheticTraffic, write_log

FILES = Path(__file__).parent / "calibrate_files"
DOCUMENTED = FILES / "alb-documented-entries.log"
CONSTRUCTED = FILES / "alb-constructed-entries.log"


def test_documented_entries_parse_field_by_field() -> None:
    data = read_access_logs([DOCUMENTED], progress=False)
    assert (data.lines, data.entries, data.bad_lines) == (7, 7, 0)
    assert data.types == {"http": 3, "https": 1, "h2": 1, "ws": 1, "wss": 1}
    assert data.field_counts == {30: 1}
    assert data.arrival_field == "request_creation_time"
    # the examples name one target group "my-targets", in us-east-2 and (wss) us-west-2
    assert sorted(g.split(":")[3] for g in data.groups) == ["us-east-2", "us-west-2"]
    g = next(s for arn, s in data.groups.items() if "us-east-2" in arn)
    w = next(s for arn, s in data.groups.items() if "us-west-2" in arn)
    assert (g.requests, w.requests, w.target_answered) == (6, 1, 1)
    # the failed Lambda entry has no target status; the six others answered
    assert g.target_answered == 5
    assert (g.elb_502, g.target_5xx) == (1, 0)
    # target times as logged: 0.001 (http and both Lambda entries), 0.048, 0.002, 0.003
    assert sorted(np.round(g.sample, 3)) == [0.001, 0.001, 0.001, 0.002, 0.003, 0.048]
    assert list(w.sample) == [0.001]
    # the Lambda entries have no target: only the five addressed targets are seen
    assert set(data.targets["target"]) == {
        "10.0.0.1:80",
        "10.0.0.66:9000",
        "10.0.1.192:8010",
        "10.0.0.171:8010",
    }
    # client IPs without their ports
    assert set(data.clients.index) == {"192.168.131.39", "10.0.1.252", "10.0.0.140"}
    # arrivals are timed by request_creation_time (22:22:48), not by the response (22:23:00)
    assert {s % 60 for s in data.per_second.index} == {48}


def test_constructed_entries_minus_one_times_and_missing_targets() -> None:
    data = read_access_logs([CONSTRUCTED], progress=False)
    assert (data.entries, data.bad_lines) == (4, 0)
    assert data.types == {"https": 2, "grpcs": 1, "h2": 1}
    blue = next(s for g, s in data.groups.items() if "blue-tg" in g)
    green = next(s for g, s in data.groups.items() if "green-tg" in g)
    assert (blue.requests, green.requests) == (3, 1)
    assert (blue.elb_503, blue.elb_502, blue.target_5xx) == (1, 1, 1)
    assert blue.no_response == 2  # the two -1 target times
    assert blue.target_answered == 1  # only the 500 came from a target
    # -1 times are not service times: only the 0.250 s of the answered request is kept
    assert list(blue.sample) == [0.25]
    assert list(green.sample) == [0.12]


@pytest.mark.parametrize("version", sorted(FIELD_VERSIONS))
def test_every_field_version(version: str, tmp_path: Path) -> None:
    spec = SyntheticTraffic(rps=20, duration=30, version=version, seed=3)
    path = tmp_path / f"v{version}.log"
    n = write_log(path, spec)
    assert sniff(path) == FIELD_VERSIONS[version]
    data = read_access_logs([path], progress=False)
    assert (data.entries, data.bad_lines) == (n, 0)
    has_created = FIELD_VERSIONS[version] >= 22
    assert data.arrival_field == ("request_creation_time" if has_created else "time")


def test_fields_appended_by_a_future_version_are_ignored(tmp_path: Path) -> None:
    lines = DOCUMENTED.read_text().splitlines()
    path = tmp_path / "future.log"
    path.write_text("".join(f'{line} "new-field" 42 "x y"\n' for line in lines))
    data = read_access_logs([path], progress=False)
    assert (data.entries, data.bad_lines) == (7, 0)
    assert sum(g.target_answered for g in data.groups.values()) == 6


def test_gzip_and_the_s3_folder_layout(tmp_path: Path) -> None:
    day = tmp_path / "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/11/30"
    day.mkdir(parents=True)
    n1 = write_log(
        day / "123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_"
        "20261130T1000Z_10.0.0.1_abcdefgh.log.gz",
        SyntheticTraffic(rps=10, duration=60, seed=1),
    )
    n2 = write_log(
        day / "123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_"
        "20261130T1005Z_10.0.0.2_ijklmnop.log.gz",
        SyntheticTraffic(rps=10, duration=60, seed=2, start="2026-11-30T10:05:00Z"),
    )
    # the test file ALB writes when logging is enabled has no suffix: not a log
    (tmp_path / "AWSLogs/123456789012/ELBAccessLogTestFile").write_text("test\n")
    logs, jsons = find_log_files([tmp_path])
    assert len(logs) == 2 and not jsons
    data = read_access_logs(logs, progress=False)
    assert data.entries == n1 + n2
    assert data.end - data.start > 300  # both files, 5 minutes apart


def test_garbage_below_the_limit_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "some-garbage.log"
    n = write_log(path, SyntheticTraffic(rps=20, duration=60, seed=4))
    with open(path, "a") as fh:
        fh.write("this is not a log line\n")
        fh.write("\x00\xff binary noise\n")
    data = read_access_logs([path], progress=False)
    assert (data.entries, data.bad_lines) == (n, 2)
    assert data.bad_examples[0].startswith("this is")  # the fields read of the line


# --------------------------------------------------------------------------------------------
# Refusals: exit status 2, one line naming the file and what it looks like, no traceback


def _refuses(paths: list[Path], capsys, *expected: str) -> str:
    code = main(["calibrate", *map(str, paths), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("bluegreen-sim: error: ")
    assert "Traceback" not in err + out
    for text in expected:
        assert text in err, err
    return err


def test_cloudfront_log_is_refused(capsys) -> None:
    _refuses([FILES / "cloudfront-standard.log"], capsys, "cloudfront-standard.log", "CloudFront")


def test_classic_load_balancer_log_is_refused(capsys) -> None:
    _refuses([FILES / "classic-elb.log"], capsys, "classic-elb.log", "Classic Load Balancer")


def test_network_load_balancer_log_is_refused(capsys) -> None:
    _refuses([FILES / "nlb-tls.log"], capsys, "nlb-tls.log", "Network Load Balancer")


def test_truncated_gzip_is_refused(tmp_path: Path, capsys) -> None:
    whole = tmp_path / "whole.log.gz"
    write_log(whole, SyntheticTraffic(rps=50, duration=120, seed=5))
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    _refuses([cut], capsys, "cut.log.gz", "truncated", "nothing was used")


def test_garbage_over_the_limit_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "mixed.log"
    n = write_log(path, SyntheticTraffic(rps=10, duration=30, seed=6))
    lines = path.read_text().splitlines()
    noise = [f"garbage line {i} with words" for i in range(n // 20)]  # 5 %
    path.write_text("\n".join(lines[:10] + noise + lines[10:]) + "\n")
    _refuses([path], capsys, "mixed.log", f"{len(noise)} of {n + len(noise)} lines", "1%")


def test_other_files_are_refused(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    _refuses([empty], capsys, "empty.log", "empty")
    _refuses([tmp_path / "missing.log"], capsys, "missing.log", "no such file")
    notjson = tmp_path / "x.json"
    notjson.write_text('{"Items": []}')
    _refuses([notjson], capsys, "x.json", "get-metric-data")
    text = tmp_path / "notes.log"
    text.write_text("hello world\nthis is a diary\n")
    _refuses([text], capsys, "notes.log", "not an ALB access log")


def test_a_gzip_file_that_is_not_gzip_inside_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.log.gz"
    shutil.copy(DOCUMENTED, path)  # plain text under a .gz name: read by its content
    assert read_access_logs([path], progress=False).entries == 7
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(DOCUMENTED.read_bytes())[:-30] + b"\x00" * 30)
    with pytest.raises(CalibrationError, match=r"broken\.log\.gz"):
        read_access_logs([broken], progress=False)


def test_edge_entries(tmp_path: Path, capsys) -> None:
    first = DOCUMENTED.read_text().splitlines()[0]
    # a client that left before any response: '-' statuses; still an entry
    left = first.replace("0.000 0.001 0.000 200 200", "0.000 0.001 0.000 - -")
    path = tmp_path / "left.log"
    path.write_text("\n".join([first] * 3 + [left]) + "\n")
    data = read_access_logs([path], progress=False)
    assert (data.entries, data.bad_lines) == (4, 0)
    # only fixed responses (no target group, no target): nothing to fit a service time on
    fixed = first.replace("10.0.0.1:80 0.000 0.001 0.000 200 200", "- 0.000 -1 0.000 200 -")
    fixed = fixed.replace(first.split()[16], "-")
    path = tmp_path / "fixed.log"
    path.write_text("\n".join([fixed] * 30) + "\n")
    _refuses([path], capsys, "fixed.log", "expected at least 20 answered requests")
    # a quote that never closes swallows the rest of the file: refused, not guessed
    path = tmp_path / "quote.log"
    path.write_text("\n".join([first] * 30 + ['http "oops']) + "\n")
    _refuses([path], capsys, "quote.log", "cannot parse")


def test_a_gap_in_the_logs_is_reported(tmp_path: Path) -> None:
    from bluegreen_sim import calibrate

    write_log(tmp_path / "a.log", SyntheticTraffic(rps=20, duration=120, seed=7))
    write_log(
        tmp_path / "b.log",
        SyntheticTraffic(rps=20, duration=120, seed=8, start="2026-11-30T11:00:00Z"),
    )
    _, report = calibrate([tmp_path], progress=False)
    gap = [n for n in report.notes if n.startswith("no entry for")]
    assert len(gap) == 1 and "for 58 minutes" in gap[0], report.notes
    assert report.trace["rps"].min() == 0  # the trace holds the gap as zero
    assert "NaN" not in json.dumps(report.to_dict())


def test_a_real_process_refuses_without_traceback() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "bluegreen_sim", "calibrate", str(FILES / "classic-elb.log")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Classic Load Balancer" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 27),  # which line
            st.integers(0, 40),  # which field
            st.sampled_from(["", "-", "-1", '"', "x y", "\t", "NaN", "99999999999", "é", '"a b"']),
        ),
        max_size=6,
    ),
    drop=st.integers(0, 40),
)
def test_mangled_logs_give_a_workload_or_one_refusal(tmp_path_factory, edits, drop) -> None:
    """Whatever is done to the lines, calibrate returns or refuses with CalibrationError."""
    from bluegreen_sim import calibrate

    lines = [line.split(" ") for line in DOCUMENTED.read_text().splitlines() * 4]
    for i, j, text in edits:
        fields = lines[i % len(lines)]
        fields[j % len(fields)] = text
    if drop < len(lines[0]):
        lines[drop % len(lines)] = lines[drop % len(lines)][:drop]
    path = tmp_path_factory.mktemp("mangled") / "mangled.log"
    path.write_text("\n".join(" ".join(f) for f in lines) + "\n", encoding="utf-8")
    try:
        workload, report = calibrate([path], progress=False)
    except CalibrationError as exc:
        assert "\n" not in str(exc)
    else:
        assert workload["service"]["tasks"] >= 1
        assert report.sources["entries"] >= 20


def test_implausible_times_and_spans(tmp_path: Path, capsys) -> None:
    first = DOCUMENTED.read_text().splitlines()[0]
    # time and request_creation_time "-1": pandas reads it as the year -1
    mangled = first.replace("2018-07-02T22:23:00.186641Z", "-1")
    mangled = mangled.replace("2018-07-02T22:22:48.364000Z", "-1")
    path = tmp_path / "minus-one.log"
    path.write_text("\n".join([first] * 200 + [mangled]) + "\n")
    data = read_access_logs([path], progress=False)
    assert (data.entries, data.bad_lines) == (200, 1)
    # entries from 2018 and from 2026 in one input: refused, not an 8-year trace
    later = first.replace("2018-07-02", "2026-07-02")
    path = tmp_path / "two-eras.log"
    path.write_text("\n".join([first] * 20 + [later] * 20) + "\n")
    _refuses([path], capsys, "two-eras.log", "expected at most 400 days")


def test_the_progress_bar_shows_only_when_asked_or_on_a_terminal(capsys) -> None:
    from bluegreen_sim.interop.logs.accesslog import _progress_bar

    assert _progress_bar(100, None) is None  # stderr is not a terminal under pytest
    assert _progress_bar(100, False) is None
    read_access_logs([DOCUMENTED], progress=True)
    assert "parsing" in capsys.readouterr().err  # tqdm's bar, on stderr

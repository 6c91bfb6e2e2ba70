"""CloudWatch exports in both shapes the AWS CLI prints, alone and next to access logs.

The fixtures in ``calibrate_files/`` hold ten minutes of one-minute datapoints: 30,000 requests
(50 req/s), 300 target 5XX (1 %), 6 ELB 502, TargetResponseTime p50 80 ms and p99 255 ms,
HealthyHostCount 4. ``get-metric-data`` lists the newest datapoint first, as it does by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluegreen_sim import calibrate
from bluegreen_sim.cli import main
from bluegreen_sim.interop.logs.cloudwatch_export import read_cloudwatch_exports
from bluegreen_sim.interop.logs.synthetic import SyntheticTraffic, write_log

FILES = Path(__file__).parent / "calibrate_files"
METRIC_DATA = FILES / "get-metric-data.json"
STATS_REQUESTS = FILES / "get-metric-statistics-requests.json"
STATS_LATENCY = FILES / "get-metric-statistics-latency.json"


def test_get_metric_data_series_are_named_by_label() -> None:
    cw = read_cloudwatch_exports([METRIC_DATA])
    assert set(cw.series) == {
        ("RequestCount", "Sum"),
        ("TargetResponseTime", "p50"),
        ("TargetResponseTime", "p99"),
        ("HTTPCode_Target_5XX_Count", "Sum"),
        ("HTTPCode_ELB_502_Count", "Sum"),
        ("HealthyHostCount", "Average"),
    }
    rc = cw.get("RequestCount", "Sum")
    assert rc.index.is_monotonic_increasing and rc.sum() == 30_000
    assert cw.period("RequestCount", "Sum") == 60


def test_get_metric_data_gives_a_workload() -> None:
    workload, report = calibrate([METRIC_DATA], progress=False)
    assert workload["load"]["pattern"] == "trace"
    assert workload["load"]["rps"] == pytest.approx(50.0)
    assert workload["duration"] == 600
    # the export lists 10:09 first; the trace starts at 10:00 (3000) then 10:01 (2970)
    assert list(report.trace["rps"])[:2] == [3000 / 60, 2970 / 60]
    assert workload["service"]["latency"] == {
        "distribution": "lognormal",
        "median": 0.08,
        "p99": 0.255,
    }
    assert workload["service"]["error_rate"] == pytest.approx(0.01)
    assert workload["service"]["tasks"] == 4
    elb502 = report.cloudwatch["errors"]["HTTPCode_ELB_502_Count"]
    assert elb502[0] == pytest.approx(6 / 30_000)
    text = str(report)
    assert "median 80.0 ms, p99 255.0 ms" in text and "healthy targets: 4" in text


def test_the_command_prints_the_report_of_exports(capsys) -> None:
    assert main(["calibrate", str(METRIC_DATA)]) == 0
    out = capsys.readouterr().out
    assert "HTTPCode_Target_5XX_Count: 1.000%" in out and "nothing written" in out
    assert main(["calibrate", str(METRIC_DATA), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"]["service"]["tasks"] == 4


def test_get_metric_statistics_gives_the_same_workload() -> None:
    workload, _ = calibrate([STATS_REQUESTS, STATS_LATENCY], progress=False)
    assert workload["load"]["rps"] == pytest.approx(50.0)
    assert workload["service"]["latency"]["median"] == 0.08
    assert workload["service"]["latency"]["p99"] == 0.255
    cw = read_cloudwatch_exports([STATS_LATENCY])
    assert ("TargetResponseTime", "Average") in cw.series  # the plain statistics too


def test_a_list_of_exports_in_one_file(tmp_path: Path) -> None:
    both = [json.loads(STATS_REQUESTS.read_text()), json.loads(STATS_LATENCY.read_text())]
    path = tmp_path / "both.json"
    path.write_text(json.dumps(both))
    workload, _ = calibrate([path], progress=False)
    assert workload["load"]["rps"] == pytest.approx(50.0)
    assert workload["service"]["latency"]["distribution"] == "lognormal"


def test_without_percentiles_the_latency_is_left_alone(tmp_path: Path, capsys) -> None:
    workload, report = calibrate([STATS_REQUESTS], progress=False)
    assert "service" not in workload
    assert any("not calibrated" in n for n in report.notes)
    out = tmp_path / "w.yaml"
    assert main(["calibrate", str(STATS_REQUESTS), "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0


def test_exports_cross_check_the_logs(tmp_path: Path) -> None:
    log = tmp_path / "ten-minutes.log"
    n = write_log(log, SyntheticTraffic(rps=50, duration=600, start="2026-11-30T10:00:00Z"))
    _, report = calibrate([log, METRIC_DATA], progress=False)
    assert report.cloudwatch["request_count_cloudwatch"] == 30_000
    assert report.cloudwatch["request_count_logs"] == n
    assert any("CloudWatch counts 30,000 requests" in note for note in report.notes)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"MetricDataResults": "x"}', "expected a list"),
        ('{"Label": "Bananas", "Datapoints": []}', "expected an ALB metric name"),
        ("[1, 2]", "get-metric-statistics"),
        ("{not json", "invalid JSON"),
        (
            '{"MetricDataResults": [{"Label": "RequestCount", "Timestamps": ["x"], '
            '"Values": [1]}]}',
            "MetricDataResults[0]",
        ),
    ],
)
def test_bad_exports_are_refused(content: str, expected: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["calibrate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.json" in err and expected in err, err
    assert "Traceback" not in err


def test_null_datapoints_and_empty_results(tmp_path: Path) -> None:
    """A null value is no datapoint: it keeps its period (60 s), the trace holds 0 there, and
    a metric with only nulls (HealthyHostCount here) gives nothing."""
    workload, report = calibrate([FILES / "get-metric-data-nulls.json"], progress=False)
    assert list(report.trace["rps"]) == [100 / 60, 0.0, 120 / 60]
    assert "service" not in workload  # no latency percentiles, no healthy hosts
    out = tmp_path / "w.yaml"
    _, report = calibrate([FILES / "get-metric-data-nulls.json"], out=out, progress=False)
    assert report.files_written == [str(tmp_path / "w.trace.csv"), str(out)]

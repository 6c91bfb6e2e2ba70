"""The timeline figure: its panels, event markers and alarm spans, found by label (no pixels)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bluegreen_sim import simulate
from bluegreen_sim.results.plots import (
    END_MARGIN_S,
    MIN_SHARE_REQUESTS,
    PANELS,
    alarm_spans,
    lifecycle_markers,
    plot_end,
    plot_result,
)
from bluegreen_sim.results.result import Result
from bluegreen_sim.scenario import scenario_from_dict

matplotlib.use("Agg")

ALARM = {
    "name": "green-5xx",
    "metric": "HTTPCode_Target_5XX_Count",
    "target_group": "green",
    "statistic": "Sum",
    "period": "60s",  # ALB metrics are 60-second metrics
    "evaluation_periods": 1,
    "threshold": 2,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


def tiny(
    controller: str,
    green_error_rate: float = 0.0,
    threshold: float = 2,
    duration: str = "5m",
    **deployment,
):
    """Five minutes, 30 rps, three tasks that start in 15 s; the deployment starts at 30 s."""
    raw = {
        "name": f"tiny-{controller}",
        "duration": duration,
        "load": {"rps": 30},
        "service": {
            "tasks": 3,
            "startup": {"distribution": "constant", "value": "15s"},
            "latency": {"distribution": "lognormal", "median": "30ms", "p99": "120ms"},
        },
        "green": {"error_rate": green_error_rate},
        "load_balancer": {
            "deregistration_delay": "10s",
            "health_check": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2},
        },
        "alarms": [{**ALARM, "threshold": threshold}],
        "deployment": {"controller": controller, "start": "30s", **deployment},
    }
    if controller != "none":
        raw["deployment"]["alarms"] = ["green-5xx"]
    return scenario_from_dict(raw)


STEPS = [{"weight": 10, "pause": "40s"}, {"weight": 50, "pause": "120s"}, {"weight": 100}]


@pytest.fixture(scope="module")
def steps_bad():
    """Green fails 20 % of requests; the alarm fires and the steps controller rolls back.

    At 30 rps green's errors are about 0.6/s at 10 % and 3/s at 50 %: a threshold of 40 per
    minute lets the 10 % step pass and catches the 50 % step in the next whole minute. Ten
    minutes: after the rollback the alarm still sees the bad minute in its evaluation range for
    three more minutes before it returns to OK.
    """
    result = simulate(tiny("steps", 0.2, threshold=40, duration="10m", steps=STEPS), seed=1)
    assert result.summary["outcome"] == "ROLLED_BACK"
    return result, plot_result(result)


@pytest.fixture(scope="module")
def no_deployment():
    result = simulate(tiny("none"), seed=1)
    return result, plot_result(result)


def panels(fig: Figure) -> dict:
    return {ax.get_label(): ax for ax in fig.axes if ax.get_label() in PANELS}


def event_lines(ax) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for line in ax.get_lines():
        label = str(line.get_label())
        if label.startswith("event:"):
            found.setdefault(label[len("event:") :], []).append(float(line.get_xdata()[0]))
    return found


def alarm_patches(ax) -> list[tuple[str, float, float]]:
    out = []
    for patch in ax.patches:
        label = str(patch.get_label())
        if label.startswith("alarm:"):
            # axvspan gives a Rectangle (matplotlib >= 3.9) or a Polygon (older).
            if hasattr(patch, "get_width"):
                xs = [patch.get_x(), patch.get_x() + patch.get_width()]
            else:
                xs = np.asarray(patch.get_xy())[:, 0]
            out.append((label[len("alarm:") :], float(np.min(xs)), float(np.max(xs))))
    return out


def test_five_labelled_panels_share_the_time_axis(steps_bad):
    result, fig = steps_bad
    found = panels(fig)
    assert list(found) == list(PANELS)
    top = found["weight"]
    for ax in found.values():
        assert ax.get_shared_x_axes().joined(ax, top)
        assert ax.get_xlim() == pytest.approx((0.0, plot_end(result)))
    assert found["weight"].get_ylim() == pytest.approx((0, 105))


def test_title_names_the_scenario_and_the_outcome(steps_bad):
    _, fig = steps_bad
    title = fig._suptitle.get_text()
    assert "tiny-steps" in title
    assert "ROLLED BACK" in title


def test_lifecycle_events_of_a_steps_run_are_marked_at_their_times(steps_bad):
    result, fig = steps_bad
    ev = result.events
    lines = event_lines(panels(fig)["errors"])
    assert {
        "deployment_started",
        "green_ready",
        "shift",
        "alarm_detected",
        "rollback",
        "deployment_end",
    } <= set(lines)
    started = ev.loc[ev.event == "deployment started", "time_s"].item()
    assert lines["deployment_started"] == [pytest.approx(started)]
    assert lines["green_ready"] == [ev.loc[ev.event == "green healthy", "time_s"].item()]
    # Every production shift gets a marker, except the shift back to blue of the rollback.
    shifts = ev[(ev.event == "production traffic shifted") & ~ev.detail.str.contains("rollback")]
    assert sorted(lines["shift"]) == pytest.approx(sorted(shifts.time_s))
    assert len(lines["shift"]) == 2  # 10 %, then 50 %; the alarm came before 100 %
    rollback = result.summary["rollback_start_s"]
    assert lines["rollback"] == [pytest.approx(rollback)]
    # The same markers cross every panel.
    for ax in panels(fig).values():
        assert event_lines(ax) == lines


def test_alarm_periods_are_shaded_where_the_timeline_says_alarm(steps_bad):
    result, fig = steps_bad
    tl = result.timeline
    in_alarm = tl.loc[tl["alarm_green-5xx"] == "ALARM", "time_s"]
    assert len(in_alarm) > 0
    for ax in panels(fig).values():
        spans = alarm_patches(ax)
        assert [name for name, _, _ in spans] == ["green-5xx"]
        _, start, stop = spans[0]
        assert start == pytest.approx(in_alarm.min())
        assert stop == pytest.approx(in_alarm.max() + 1)
    legend = fig.legends[0]
    assert "green-5xx in ALARM" in [t.get_text() for t in legend.get_texts()]


def test_saves_png_and_svg(steps_bad, tmp_path):
    result, fig = steps_bad
    png, svg = tmp_path / "run.png", tmp_path / "run.svg"
    fig.savefig(png)
    returned = result.plot(svg)  # Result.plot saves when given a path
    assert isinstance(returned, Figure)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert "<svg" in text and len(text) > 10_000


def test_controller_none_has_no_markers_no_spans_and_no_green(no_deployment, tmp_path):
    result, fig = no_deployment
    assert result.summary["outcome"] == "NO_DEPLOYMENT"
    assert "NO DEPLOYMENT" in fig._suptitle.get_text()
    for ax in panels(fig).values():
        assert event_lines(ax) == {}
        assert alarm_patches(ax) == []
    throughput = panels(fig)["throughput"]
    labels = {str(line.get_label()) for line in throughput.get_lines()}
    assert "blue" in labels and "green" not in labels
    fig.savefig(tmp_path / "none.png")
    assert (tmp_path / "none.png").stat().st_size > 0


def test_codedeploy_lifecycle_is_marked():
    pytest.importorskip("bluegreen_sim.aws.controllers.codedeploy")
    bad = simulate(
        tiny(
            "codedeploy",
            0.2,
            config="CodeDeployDefault.ECSCanary10Percent5Minutes",
            auto_rollback=["DEPLOYMENT_STOP_ON_ALARM"],
        ),
        seed=1,
    )
    assert bad.summary["outcome"] == "ROLLED_BACK"
    lines = event_lines(panels(plot_result(bad))["weight"])
    assert {
        "deployment_started",
        "green_ready",
        "shift",
        "alarm_detected",
        "rollback",
        "deployment_end",
    } <= set(lines)
    installed = bad.events.loc[bad.events.event == "Install succeeded", "time_s"].item()
    assert lines["green_ready"] == [installed]  # not BeforeInstall/AfterInstall succeeded

    good = simulate(tiny("codedeploy", termination_wait="30s"), seed=1)
    assert good.summary["outcome"] == "SUCCEEDED"
    lines = event_lines(panels(plot_result(good))["weight"])
    assert {"termination_wait", "blue_removed", "deployment_end", "shift"} <= set(lines)
    assert lines["blue_removed"] == [pytest.approx(good.summary["deployment_end_s"])]


# -- the rules, on hand-made tables ------------------------------------------------------------


def test_marker_rules_on_hand_made_events():
    ev = pd.DataFrame(
        [
            (10.0, "ecs", "deployment started", ""),
            (10.0, "ecs", "PRE_SCALE_UP started", ""),
            (10.0, "ecs", "SCALE_UP started", ""),
            (12.0, "codedeploy", "BeforeInstall succeeded", ""),
            (40.0, "ecs", "green steady", ""),
            (41.0, "alb", "production traffic shifted", "green 12.5% / blue 87.5% (step 1)"),
            (50.0, "hook", "AfterAllowTraffic timedout", "no report within 3600s"),
            (60.0, "steps", "alarm detected", "x in ALARM"),
            (60.0, "steps", "rollback started", "alarm x"),
            (60.0, "alb", "production traffic shifted", "green 0% / blue 100% (rollback)"),
            (60.0, "ecs", "deployment stopped", "no rollback"),
            (60.0, "ecs", "deployment failed", "alarm x"),
            (70.0, "alb", "target healthy", "green-1"),
        ],
        columns=["time_s", "source", "event", "detail"],
    )
    got = [(m.time_s, m.kind, m.text) for m in lifecycle_markers(ev)]
    assert got == [
        (10.0, "deployment_started", "start"),
        (40.0, "green_ready", "green ready"),
        (41.0, "shift", "→12.5%"),
        (50.0, "step_failed", "AfterAllowTraffic timed out"),
        (60.0, "alarm_detected", "alarm detected"),
        (60.0, "rollback", "rollback"),
        (60.0, "deployment_end", "failed"),
    ]
    assert lifecycle_markers(ev.iloc[0:0]) == []


def test_alarm_spans_on_a_hand_made_timeline():
    tl = pd.DataFrame(
        {
            "time_s": np.arange(8.0),
            "alarm_a": ["INSUFFICIENT_DATA", "OK", "ALARM", "ALARM", "OK", "ALARM", "OK", "OK"],
            "alarm_b": ["OK"] * 7 + ["ALARM"],
            "requests_blue": 0,
        }
    )
    assert alarm_spans(tl) == [("a", 2.0, 4.0), ("a", 5.0, 6.0), ("b", 7.0, 8.0)]


# -- plots that do not mislead (issue 10, item 8) -----------------------------------------------


def test_the_time_axis_ends_shortly_after_the_deployment_unless_full(steps_bad):
    result, fig = steps_bad
    end = result.summary["deployment_end_s"]
    shown = panels(fig)["tasks"].get_xlim()[1]
    spans_end = max(e for _, _, e in alarm_spans(result.timeline))
    assert max(end, spans_end) + END_MARGIN_S <= shown < result.scenario.duration
    assert "shown to" in fig._suptitle.get_text()
    whole = plot_result(result, full=True)
    assert panels(whole)["tasks"].get_xlim() == pytest.approx((0, result.scenario.duration))
    assert "shown to" not in whole._suptitle.get_text()


def test_panels_with_nothing_to_show_are_left_out(no_deployment):
    result, fig = no_deployment
    assert result.summary["requests_failed"] == 0
    # nothing deployed: no weight panel; nothing failed: no error panel
    assert list(panels(fig)) == ["throughput", "latency", "tasks"]
    assert plot_end(result) == result.scenario.duration  # no deployment: the whole run


def _hand_made(green_requests, green_errors) -> Result:
    n = len(green_requests)
    tl = pd.DataFrame(
        {
            "time_s": np.arange(float(n)),
            "green_weight": 50.0,
            "requests_blue": 100,
            "errors_blue": 0,
            "requests_green": green_requests,
            "errors_green": green_errors,
            "p50_ms_blue": 40.0,
            "p99_ms_blue": 150.0,
            "p50_ms_green": 40.0,
            "p99_ms_green": 150.0,
            "healthy_blue": 2,
            "running_blue": 2,
            "healthy_green": 2,
            "running_green": 2,
        }
    )
    events = pd.DataFrame(columns=["time_s", "source", "event", "detail"])
    return Result({"scenario": "hand"}, tl, events, pd.DataFrame(), pd.DataFrame())


def test_an_error_share_of_a_handful_of_requests_is_marked_not_drawn():
    # Green serves 1 request a second for 30 s (fails half), then 100 a second.
    req = [1] * 30 + [100] * 30
    err = [1 if i % 2 else 0 for i in range(30)] + [5] * 30
    fig = plot_result(_hand_made(req, err), smooth=10)
    ax = panels(fig)["errors"]
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "green")
    y = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(y[:20]).all()  # fewer than MIN_SHARE_REQUESTS in the window: no line
    assert np.isfinite(y[40:]).all() and y[40:] == pytest.approx(5.0)
    dots = [ln for ln in ax.get_lines() if ln.get_gid() == "few:green"]
    assert len(dots) == 1 and dots[0].get_linestyle() == "None"
    assert len(dots[0].get_xdata()) > 0 and max(dots[0].get_xdata()) < 30
    assert MIN_SHARE_REQUESTS == 20
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "5xx share of < 20 requests (noisy)" in legend
    # the marked shares stay on the axis (hidden points would hide that something failed)
    assert ax.get_ylim()[1] >= max(dots[0].get_ydata())


def test_distinct_things_have_distinct_line_styles_in_the_legend(steps_bad):
    _, fig = steps_bad
    handles = fig.legends[0].legend_handles
    styles = {}
    for h in handles:
        label = h.get_label()
        if label.startswith(("blue", "green")) or not hasattr(h, "get_linestyle"):
            continue  # the revisions are told apart by colour; alarms are shaded patches
        if "ALARM" in label:
            continue
        styles[label] = (h.get_linestyle(), h.get_marker())
    assert {"healthy tasks", "running tasks", "lifecycle event", "traffic shift"} <= set(styles)
    assert len(set(styles.values())) == len(styles), styles

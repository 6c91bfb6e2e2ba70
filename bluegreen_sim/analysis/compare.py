"""Comparing strategies: the same scenario, a few variants of it, the same seeds.

A variant is a set of dotted overrides of the scenario (``{"deployment.config":
"CodeDeployDefault.ECSAllAtOnce"}`` or ``["green.error_rate=0.05"]``). :func:`compare` runs every
variant with every seed. Because each run spawns its random streams from its seed alone, variant A
and variant B with seed 3 see the same arrivals, the same service times and the same start-up
times (common random numbers): the differences between them are the strategy's, not the luck's.

:func:`compare` returns a :class:`Comparison`: a DataFrame of the runs (one row per variant and
seed, as before) whose display in a notebook is the comparison table with its intervals;
``.runs`` is the raw table and ``.table`` the summary. :func:`comparison_table` summarises the
runs per variant: the mean of each figure of merit with
its 95 % Student-t confidence interval, and the share of runs that rolled back.
:func:`format_comparison` prints that table; :func:`plot_comparison` draws it.

Example::

    from bluegreen_sim.compare import compare, format_comparison
    runs = compare("scenarios/canary-bad-green.yaml", {
        "all at once": {"deployment.config": "CodeDeployDefault.ECSAllAtOnce"},
        "canary 10 % 5 min": {},
    }, seeds=range(20))
    print(format_comparison(runs))
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine.simulation import simulate
from ..scenario import Scenario, ScenarioError, apply_overrides, load_scenario, scenario_from_dict
from .stats import CONFIDENCE, mean_interval, t_quantile, wilson_interval

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from matplotlib.figure import Figure

# The figures of merit of a comparison: summary key → how the table and the plot name it.
FIGURES_OF_MERIT: dict[str, str] = {
    "requests_failed": "failed requests",
    "excess_failed": "excess failed requests",
    "time_to_detect_s": "time to detect (s)",
    "deployment_duration_s": "deployment duration (s)",
    "peak_tasks": "peak tasks",
    "cost_usd": "cost (USD)",
}
ROLLED_BACK = "rolled_back"
# Figures that cannot be negative: their axes start at zero (excess_failed can be negative).
_FROM_ZERO = (
    "requests_failed",
    "time_to_detect_s",
    "deployment_duration_s",
    "peak_tasks",
    "cost_usd",
)


def compare(
    scenario: Scenario | str | Path,
    variants: Mapping[str, Mapping[str, Any] | list[str]] | None,
    seeds: Iterable[int] = range(10),
    *,
    workers: int | None = None,
) -> Comparison:
    """Run every variant of a scenario with the same seeds.

    Args:
        scenario: a :class:`~bluegreen_sim.scenario.Scenario`, or the path of a scenario file.
        variants: variant name → dotted overrides (a dict, or a list of ``key=value``). An empty
            override is the scenario as it is. ``None`` or ``{}`` compares the scenario alone
            (variant ``"baseline"``).
        seeds: the seeds every variant runs with (common random numbers).
        workers: processes to run in; ``None`` or 1 runs in this process.

    Returns:
        A :class:`Comparison`: one row per (variant, seed): ``variant``, then the run's
        summary fields (``seed``, ``outcome``, ``requests_failed``, ...), in the order of
        ``variants``, then seeds. In a notebook it shows as the comparison table.

    Raises:
        ScenarioError: a variant's overrides do not make a valid scenario. Every variant is
            checked before any run starts; the error names the variant.
    """
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not variants:
        variants = {"baseline": {}}
    raw = base.model_dump(mode="json")
    built: dict[str, Scenario] = {}
    for name, overrides in variants.items():
        source = f"variant {name!r}"
        if isinstance(overrides, str):
            raise ScenarioError(
                source, None, "expected a dict of overrides or a list of key=value strings"
            )
        data = apply_overrides(
            raw, dict(overrides) if _is_mapping(overrides) else overrides, source
        )
        built[name] = scenario_from_dict(data, source, base_dir=base.base_dir)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("compare needs at least one seed")

    jobs = [(name, seed) for name in built for seed in seeds]
    if workers is None or workers <= 1:
        summaries = [_run(built[name], seed) for name, seed in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            summaries = list(
                pool.map(_run, [built[name] for name, _ in jobs], [seed for _, seed in jobs])
            )
    rows = [
        {"variant": name, "seed": seed, **{k: v for k, v in summary.items() if k != "seed"}}
        for (name, seed), summary in zip(jobs, summaries, strict=True)
    ]
    return Comparison(rows)


class Comparison(pd.DataFrame):
    """The runs of a comparison, one row per (variant, seed), that display as its table.

    It is a DataFrame of the runs, so ``runs[runs.variant == "canary"]``, ``runs.to_csv()``
    and every other use of a runs table work as they did; what it adds:

    * in Jupyter it shows as the comparison table (:func:`format_comparison`'s figures, mean
      and confidence interval per variant) instead of dozens of raw rows;
    * ``.runs``: the raw table, a plain DataFrame;
    * ``.table``: :func:`comparison_table` (means, intervals, counts);
    * ``str()`` is :func:`format_comparison`'s text.

    Derived frames (a selection, a groupby) are plain DataFrames.
    """

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    @property
    def runs(self) -> pd.DataFrame:
        """The raw table: one row per (variant, seed)."""
        return pd.DataFrame(self)

    @property
    def table(self) -> pd.DataFrame:
        """Mean, interval and count of each figure of merit per variant."""
        return comparison_table(self.runs)

    def __str__(self) -> str:
        return format_comparison(self.runs)

    def _repr_html_(self) -> str:
        return comparison_html(self.runs)


def _is_mapping(value: Any) -> bool:
    return hasattr(value, "items")


def _run(scenario: Scenario, seed: int) -> dict[str, Any]:
    return simulate(scenario, seed=seed).summary


# -- the table ------------------------------------------------------------------------------------


def comparison_table(runs: pd.DataFrame, *, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and confidence interval of each figure of merit, per variant.

    Args:
        runs: what :func:`compare` returned (one row per variant and seed).
        confidence: of the Student-t intervals.

    Returns:
        One row per variant (in the order they first appear); columns are a two-level index
        ``(figure, stat)`` with ``stat`` in ``mean``, ``lo``, ``hi``, ``n``. ``n`` counts the runs
        where the figure has a value (``time_to_detect_s`` has none where nothing was detected);
        with fewer than two the interval is NaN. The figure ``rolled_back`` is the share of runs
        whose outcome was ROLLED_BACK, with a Wilson score interval.
    """
    order = list(dict.fromkeys(runs["variant"]))
    rows = {}
    for name in order:
        group = runs[runs["variant"] == name]
        row: dict[tuple[str, str], float] = {}
        for key in FIGURES_OF_MERIT:
            values = (
                pd.to_numeric(group[key], errors="coerce").dropna().to_numpy(dtype=float)
                if key in group
                else np.array([])
            )
            _, mean, lo, hi = mean_interval(values, confidence)
            row.update(
                {(key, "mean"): mean, (key, "lo"): lo, (key, "hi"): hi, (key, "n"): len(values)}
            )
        n = len(group)
        k = int((group["outcome"] == "ROLLED_BACK").sum()) if "outcome" in group else 0
        lo, hi = wilson_interval(k, n, confidence)
        row.update(
            {
                (ROLLED_BACK, "mean"): k / n if n else math.nan,
                (ROLLED_BACK, "lo"): lo,
                (ROLLED_BACK, "hi"): hi,
                (ROLLED_BACK, "n"): n,
            }
        )
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["figure", "stat"])
    table.index.name = "variant"
    return table


# -- text -------------------------------------------------------------------------------------


def format_comparison(runs: pd.DataFrame, *, confidence: float = CONFIDENCE) -> str:
    """A text table: one row per figure of merit, one column per variant, "mean [lo, hi]".

    Args:
        runs: what :func:`compare` returned, or a :func:`comparison_table`.
        confidence: of the intervals.
    """
    table = (
        runs
        if isinstance(runs.columns, pd.MultiIndex)
        else comparison_table(runs, confidence=confidence)
    )
    variants = [str(v) for v in table.index]
    n_runs = [int(table.loc[v, (ROLLED_BACK, "n")]) for v in table.index]
    header = ["", *variants]
    lines = [["runs", *[str(n) for n in n_runs]]]
    for key, title in FIGURES_OF_MERIT.items():
        cells = [title]
        for v, total in zip(table.index, n_runs, strict=True):
            mean, lo, hi, n = (table.loc[v, (key, s)] for s in ("mean", "lo", "hi", "n"))
            if not n:
                cells.append("–")
                continue
            spread = np.isfinite(lo) and _num(lo) != _num(hi)
            cell = f"{_num(mean)} [{_num(lo)}, {_num(hi)}]" if spread else _num(mean)
            if n != total:
                cell += f" (n={int(n)})"
            cells.append(cell)
        lines.append(cells)
    cells = ["rolled back"]
    for v, total in zip(table.index, n_runs, strict=True):
        share = table.loc[v, (ROLLED_BACK, "mean")]
        k = round(share * total) if total else 0
        cells.append(f"{share:.0%} ({k}/{total})" if total else "–")
    lines.append(cells)

    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def render(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    note = (
        f"mean [{confidence:.0%} t-interval] over the runs; (n=k): runs with a value "
        "(time to detect only where a fault was detected)"
    )
    return "\n".join([render(header), rule, *(render(r) for r in lines), "", note])


def comparison_html(runs: pd.DataFrame, *, confidence: float = CONFIDENCE) -> str:
    """:func:`format_comparison` as an HTML table (a notebook's display of a comparison)."""
    from html import escape

    table = comparison_table(runs, confidence=confidence)
    n_runs = [int(table.loc[v, (ROLLED_BACK, "n")]) for v in table.index]
    head = "".join(f"<th>{escape(str(v))}</th>" for v in table.index)
    body = [f"<tr><th>runs</th>{''.join(f'<td>{n}</td>' for n in n_runs)}</tr>"]
    for key, title in FIGURES_OF_MERIT.items():
        cells = []
        for v, total in zip(table.index, n_runs, strict=True):
            mean, lo, hi, n = (table.loc[v, (key, s)] for s in ("mean", "lo", "hi", "n"))
            if not n:
                cells.append("<td>–</td>")
                continue
            text = f"<b>{_num(mean)}</b>"
            if np.isfinite(lo) and _num(lo) != _num(hi):
                text += f" <small>[{_num(lo)}, {_num(hi)}]</small>"
            if n != total:
                text += f" <small>(n={int(n)})</small>"
            cells.append(f"<td>{text}</td>")
        body.append(f"<tr><th>{escape(title)}</th>{''.join(cells)}</tr>")
    cells = []
    for v, total in zip(table.index, n_runs, strict=True):
        share = table.loc[v, (ROLLED_BACK, "mean")]
        k = round(share * total) if total else 0
        cells.append(f"<td><b>{share:.0%}</b> <small>({k}/{total})</small></td>")
    body.append(f"<tr><th>rolled back</th>{''.join(cells)}</tr>")
    note = (
        f"mean [{confidence:.0%} t-interval; Wilson for rolled back] over {max(n_runs, default=0)} "
        f"seeds (common random numbers); <code>.runs</code>: the {len(runs)} runs, one row each; "
        "<code>.table</code>: the figures as numbers"
    )
    return (
        '<table class="bluegreen-comparison"><thead><tr><th></th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + f"</tbody></table><p><small>{note}</small></p>"
    )


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    ax = abs(x)
    if x == round(x) and ax < 1e15:
        return f"{round(x):,}"
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return "0" if ax == 0 else f"{x:.3g}"


# -- the picture ----------------------------------------------------------------------------------


def plot_comparison(runs: pd.DataFrame, *, confidence: float = CONFIDENCE) -> Figure:
    """One panel per figure of merit: each variant's mean with its confidence interval.

    Args:
        runs: what :func:`compare` returned, or a :func:`comparison_table`.
        confidence: of the intervals.

    Returns:
        A :class:`matplotlib.figure.Figure` (built without pyplot). Each panel's label
        (``ax.get_label()``) is the summary key it shows, or ``rolled_back``.
    """
    from matplotlib.figure import Figure

    table = (
        runs
        if isinstance(runs.columns, pd.MultiIndex)
        else comparison_table(runs, confidence=confidence)
    )
    figures = [*FIGURES_OF_MERIT.items(), (ROLLED_BACK, "rolled back (share of runs)")]
    variants = [str(v) for v in table.index]
    y = np.arange(len(variants))
    ncols = 4
    nrows = math.ceil(len(figures) / ncols)
    fig = Figure(figsize=(13, 1.0 + nrows * (0.45 * len(variants) + 1.4)), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    colors = [f"C{i % 10}" for i in range(len(variants))]
    for ax, (key, title) in zip(axes, figures, strict=False):
        ax.set_label(key)
        ax.set_title(title, fontsize=10)
        mean = table[(key, "mean")].to_numpy(dtype=float)
        lo = table[(key, "lo")].to_numpy(dtype=float)
        hi = table[(key, "hi")].to_numpy(dtype=float)
        for i in range(len(variants)):
            if not np.isfinite(mean[i]):
                continue
            if np.isfinite(lo[i]) and np.isfinite(hi[i]):
                ax.plot([lo[i], hi[i]], [y[i], y[i]], color=colors[i], linewidth=2.2, alpha=0.6)
            ax.plot(mean[i], y[i], "o", color=colors[i], markersize=6)
        if key == ROLLED_BACK:
            ax.set_xlim(-0.05, 1.05)
            ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        elif key in _FROM_ZERO:
            # A cost, a count or a duration read against zero: differences are not magnified.
            right = np.nanmax(np.concatenate([hi, mean]), initial=0.0)
            ax.set_xlim(0, right * 1.08 if np.isfinite(right) and right > 0 else 1)
        ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_ylim(len(variants) - 0.5, -0.5)
    for ax in axes[len(figures) :]:
        ax.set_visible(False)
    axes[0].set_yticks(y, variants)
    for row in range(nrows):
        axes[row * ncols].set_yticks(y, variants)
    n = int(table[(ROLLED_BACK, "n")].max()) if len(table) else 0
    fig.suptitle(
        f"Strategies compared: mean and {confidence:.0%} interval over {n} seeds "
        "(common random numbers)",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    return fig


__all__ = [
    "FIGURES_OF_MERIT",
    "Comparison",
    "compare",
    "comparison_html",
    "comparison_table",
    "format_comparison",
    "mean_interval",
    "plot_comparison",
    "t_quantile",
    "wilson_interval",
]

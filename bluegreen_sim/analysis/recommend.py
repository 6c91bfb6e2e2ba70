"""From advice to a decision: the Pareto-efficient candidates and one recommendation.

:func:`recommend` takes an :class:`~bluegreen_sim.analysis.advise.Advice` and constraints
(default: P(false rollback) ≤ 1 %, P(detect +1 % errors) ≥ 95 %) and picks, among the
candidates that meet them, the fastest (shortest healthy deployment), breaking ties by fewer
failed requests, fewer false rollbacks, better detection, then name. Constraints are checked on
the conservative end of each interval (the upper bound of P(false rollback), the lower bound of
P(detect)), so a simulated candidate must be *shown* to meet them; exact values have no width.

Efficiency is judged on four objectives: P(false rollback), P(detect) (maximised), failed
requests for the constraint's regression (the risk) and deployment duration (the speed). A
candidate dominated on all four by another cannot be recommended (the one dominating it meets
every constraint it meets and is at least as fast, and wins the ties), so adding a dominated
candidate never changes the recommendation.

The recommendation is written as a scenario file (:func:`export_recommendation`); when the
``export`` command lands, ``to=`` is the hook that turns it into CloudFormation, Terraform, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from ..scenario import Scenario, apply_overrides, scenario_from_dict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .advise import Advice

__all__ = ["Recommendation", "export_recommendation", "pareto_efficient", "recommend"]

FALSE = "P(false rollback)"
DURATION = "deployment duration (s)"


@dataclass
class Recommendation:
    """A recommended candidate and how every candidate fared.

    Attributes:
        name: the recommended candidate, or ``None`` when none meets the constraints.
        table: one row per candidate: the objectives with their intervals, ``feasible``,
            ``efficient`` (Pareto), ``recommended``.
        constraints: what was required.
        reason: one sentence saying why (or why nothing).
        overrides: the recommended candidate's overrides of the scenario.
        scenario: the user's scenario with those overrides (``None`` without a recommendation).
    """

    name: str | None
    table: pd.DataFrame
    constraints: dict[str, Any]
    reason: str
    overrides: dict[str, Any] = field(default_factory=dict)
    scenario: Scenario | None = None

    def plot(self) -> Figure:
        """Risk against speed, and false rollbacks against detection."""
        return plot_tradeoffs(self)


def _columns(regression: str) -> dict[str, str]:
    return {
        "p_false": FALSE,
        "p_detect": f"P(detect) [{regression}]",
        "failed": f"failed requests [{regression}]",
        "ttd": f"median time to detect (s) [{regression}]",
        "duration": DURATION,
        "cost": "cost (USD)",
    }


def pareto_efficient(values: pd.DataFrame) -> pd.Series:
    """True for rows no other row dominates (all columns minimised; NaN counts as worst)."""
    v = values.to_numpy(float)
    v = np.where(np.isnan(v), np.inf, v)
    efficient = np.ones(len(v), bool)
    for i in range(len(v)):
        others = np.delete(v, i, axis=0)
        dominated = np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1)
        efficient[i] = not dominated.any()
    return pd.Series(efficient, index=values.index)


def recommend(
    advice: Advice,
    *,
    max_false_rollback: float = 0.01,
    min_detect: float = 0.95,
    regression: str = "errors +1%",
    max_failed: float | None = None,
) -> Recommendation:
    """Pick the fastest candidate that meets the constraints.

    Args:
        advice: what :func:`~bluegreen_sim.analysis.advise.advise` returned.
        max_false_rollback: the largest acceptable P(false rollback) (upper bound of its
            interval).
        min_detect: the smallest acceptable P(detect) of ``regression`` (lower bound).
        regression: the regression the detection constraint and the risk refer to.
        max_failed: optionally, the most failed requests (upper bound) a release with
            ``regression`` may cause.

    Raises:
        ValueError: ``regression`` is not one the advice measured.
    """
    if regression not in advice.regressions:
        raise ValueError(
            f"regression {regression!r} was not measured; measured: {', '.join(advice.regressions)}"
        )
    col = _columns(regression)
    wide = advice.table()
    table = pd.DataFrame(index=wide.index)
    for name in col.values():
        for suffix in ("", "_low", "_high"):
            table[name + suffix] = wide.get(name + suffix, np.nan)
    objectives = pd.DataFrame(
        {
            "false": table[col["p_false"]],
            "miss": -table[col["p_detect"]],
            "risk": table[col["failed"]],
            "duration": table[col["duration"]],
        }
    )
    table["feasible"] = (table[col["p_false"] + "_high"] <= max_false_rollback) & (
        table[col["p_detect"] + "_low"] >= min_detect
    )
    if max_failed is not None:
        table["feasible"] &= table[col["failed"] + "_high"] <= max_failed
    table["efficient"] = pareto_efficient(objectives)
    constraints = {
        "max_false_rollback": max_false_rollback,
        "min_detect": min_detect,
        "regression": regression,
        "max_failed": max_failed,
    }
    limits = f"P(false rollback) <= {max_false_rollback:g} and P(detect {regression}) >= " + (
        f"{min_detect:g}" + (f" and at most {max_failed:g} failed requests" if max_failed else "")
    )
    feasible = table[table["feasible"]]
    table["recommended"] = False
    if feasible.empty:
        best = table[col["p_detect"]].idxmax() if table[col["p_detect"]].notna().any() else None
        reason = f"no candidate shows {limits}" + (
            f"; the best detector is {best!r}" if best is not None else ""
        )
        return Recommendation(None, table, constraints, reason)
    key = feasible.assign(
        _d=feasible[col["duration"]].fillna(np.inf),
        _r=feasible[col["failed"]].fillna(np.inf),
        _f=feasible[col["p_false"]],
        _m=-feasible[col["p_detect"]],
        _n=feasible.index,
    ).sort_values(["_d", "_r", "_f", "_m", "_n"])
    name = str(key.index[0])
    table.loc[name, "recommended"] = True
    row = table.loc[name]
    reason = (
        f"{name!r}: the fastest of {len(feasible)} candidate(s) with {limits} "
        f"(duration {row[col['duration']]:.0f} s, P(false rollback) {row[col['p_false']]:.3g}, "
        f"P(detect) {row[col['p_detect']]:.3g})"
    )
    overrides = dict(advice.candidates[name])
    raw = advice.scenario.model_dump(mode="json", exclude={"base_dir"})
    scenario = scenario_from_dict(
        apply_overrides(raw, overrides, f"candidate {name!r}"),
        f"candidate {name!r}",
        base_dir=advice.scenario.base_dir,
    )
    return Recommendation(name, table, constraints, reason, overrides, scenario)


EXPORT_SUFFIXES = {
    "cloudformation": ".cfn.yaml",
    "terraform": ".tf",
    "ecs-json": ".json",
    "appspec": ".appspec.yaml",
}


def export_recommendation(
    recommendation: Recommendation, path: str | Path, *, to: str | None = None
) -> Path:
    """Write the recommended setup.

    Args:
        recommendation: a recommendation with a candidate.
        path: the file to write.
        to: ``None`` (a scenario YAML file, loadable with ``load_scenario``), or a format of the
            ``export`` command (``cloudformation``, ``terraform``, ``ecs-json``, ``appspec``):
            the recommended deployment settings as a snippet for the user's definition.

    Raises:
        ValueError: there is no recommendation.
        ScenarioError: the recommended setup has no form in ``to`` (a ``steps`` controller, an
            AppSpec for an ECS-native deployment, an unknown format).
    """
    if recommendation.scenario is None:
        raise ValueError("nothing to export: " + recommendation.reason)
    path = Path(path)
    if to is not None:
        from ..interop.export import export  # the export command's own writer

        head = f"# Recommended by bluegreen-sim advise: {recommendation.reason}\n"
        if to == "ecs-json":
            head = ""  # JSON has no comments: the CLI input must stay loadable
        text = head + export(recommendation.scenario, to)
    else:
        data = recommendation.scenario.model_dump(
            mode="json", exclude={"base_dir"}, exclude_none=True
        )
        header = (
            f"# Recommended by bluegreen-sim advise: {recommendation.reason}\n"
            f"# Overrides of {recommendation.scenario.name!r}: {recommendation.overrides}\n"
        )
        text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never a half-written file
    return path


def plot_tradeoffs(recommendation: Recommendation) -> Figure:
    """Two panels: failed requests (risk) against deployment duration (speed), and
    P(false rollback) against P(detect); efficient candidates filled, the recommended one
    ringed."""
    import matplotlib.pyplot as plt

    col = _columns(recommendation.constraints["regression"])
    t = recommendation.table
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = (
        (axes[0], col["duration"], col["failed"], "deployment duration (s)", "failed requests"),
        (axes[1], col["p_detect"], col["p_false"], "P(detect)", "P(false rollback)"),
    )
    for ax, x, y, xlabel, ylabel in panels:
        for eff, marker, label in ((True, "o", "efficient"), (False, "x", "dominated")):
            part = t[t["efficient"] == eff]
            ax.scatter(part[x], part[y], marker=marker, label=label, zorder=3)
            if len(part):
                xerr = np.abs(np.vstack([part[x] - part[x + "_low"], part[x + "_high"] - part[x]]))
                yerr = np.abs(np.vstack([part[y] - part[y + "_low"], part[y + "_high"] - part[y]]))
                ax.errorbar(
                    part[x],
                    part[y],
                    xerr=np.nan_to_num(xerr),
                    yerr=np.nan_to_num(yerr),
                    fmt="none",
                    alpha=0.4,
                )
        rec = t[t["recommended"]]
        if len(rec):
            ax.scatter(
                rec[x],
                rec[y],
                s=220,
                facecolors="none",
                edgecolors="red",
                label="recommended",
                zorder=4,
            )
        for name, row in t[t["efficient"]].iterrows():
            ax.annotate(
                str(name), (row[x], row[y]), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    c = recommendation.constraints
    axes[1].axhline(c["max_false_rollback"], color="grey", ls="--", lw=0.8)
    axes[1].axvline(c["min_detect"], color="grey", ls="--", lw=0.8)
    axes[0].set_title(f"risk against speed ({c['regression']})")
    axes[1].set_title("false rollbacks against detection")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig

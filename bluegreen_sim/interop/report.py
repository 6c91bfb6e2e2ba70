"""The import report, and the scenario YAML that cites where each value came from.

The report is the product as much as the scenario: an architect must see which of their
settings the simulation uses (*mapped*), which it had to assume (*defaulted*, and why), what it
left out as irrelevant to traffic shifting (*ignored*) and what in their files looks like a
mistake (*looks wrong*). The workload is never in deployment definitions, so it is always
among the defaulted values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

WORKLOAD_NOTE = (
    "the workload (request rate, latency, error rate, concurrency, start-up time) is not in "
    "deployment definitions: the scenario's defaults are placeholders; measure yours or set "
    "load.*, service.* and green.*"
)


@dataclass
class ImportReport:
    """What an import did, in four lists of ``(where, what)`` lines."""

    sources: list[str] = field(default_factory=list)
    mapped: list[tuple[str, Any, str]] = field(default_factory=list)  # (field, value, origin)
    defaulted: list[tuple[str, Any, str]] = field(default_factory=list)  # (field, value, why)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    def map(self, path: str, value: Any, origin: str) -> None:
        self.mapped.append((path, value, origin))

    def default(self, path: str, value: Any, why: str) -> None:
        self.defaulted.append((path, value, why))

    def ignore(self, where: str, why: str) -> None:
        self.ignored.append((where, why))

    def looks_wrong(self, where: str, why: str) -> None:
        self.wrong.append((where, why))

    def origins(self) -> dict[str, str]:
        """Scenario field path → the origin of its value (the last mapping wins)."""
        out = {p: o for p, _, o in self.mapped}
        out.update({p: f"default: {why}" for p, _, why in self.defaulted if p not in out})
        return out

    def text(self) -> str:
        """The report as plain text, one item a line."""
        lines = ["Imported from: " + ", ".join(self.sources)]
        sections = (
            ("Mapped", [f"{p} = {_short(v)}  <- {o}" for p, v, o in self.mapped]),
            (
                "Defaulted",
                [f"{p}{'' if v is None else ' = ' + _short(v)}: {w}" for p, v, w in self.defaulted],
            ),
            ("Ignored", [f"{w}: {why}" for w, why in self.ignored]),
            ("Looks wrong", [f"{w}: {why}" for w, why in self.wrong]),
        )
        for title, items in sections:
            lines.append(f"{title} ({len(items)}):")
            lines += [f"  - {item}" for item in items] or ["  (none)"]
        lines.append("Workload: " + WORKLOAD_NOTE)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "mapped": [{"field": p, "value": v, "from": o} for p, v, o in self.mapped],
            "defaulted": [{"field": p, "value": v, "why": w} for p, v, w in self.defaulted],
            "ignored": [{"where": w, "why": y} for w, y in self.ignored],
            "looks_wrong": [{"where": w, "why": y} for w, y in self.wrong],
            "workload": WORKLOAD_NOTE,
        }


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------------------------
# The scenario YAML with a comment on each imported line


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    text = text.strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


def _comment(origin: str | None) -> str:
    if not origin:
        return ""
    return "  # " + " ".join(origin.split())


def scenario_yaml(data: dict[str, Any], report: ImportReport, header: str = "") -> str:
    """``data`` as YAML where each imported or defaulted value carries a comment naming the
    file and path it came from (or why it was assumed)."""
    origins = report.origins()
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    _emit(data, "", 0, origins, lines)
    return "\n".join(lines) + "\n"


def _emit(node: dict[str, Any], prefix: str, indent: int, origins: dict, lines: list) -> None:
    pad = " " * indent
    for key, value in node.items():
        path = f"{prefix}{key}"
        note = _comment(origins.get(path))
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_scalar(key)}:{note}")
            _emit(value, path + ".", indent + 2, origins, lines)
        elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{_scalar(key)}:{note}")
            for i, item in enumerate(value):
                item_note = _comment(origins.get(f"{path}.{i}"))
                if isinstance(item, dict) and item:
                    lines.append(f"{pad}  -{item_note}")
                    _emit(item, f"{path}.{i}.", indent + 4, origins, lines)
                else:
                    lines.append(f"{pad}  - {_scalar(item)}{item_note}")
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}{note}")

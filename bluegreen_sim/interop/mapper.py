"""The mapping's tools: a :class:`Mapper` that writes scenario fields and, for each, the report
line saying where the value came from (or why it was assumed); converters for the values
CloudFormation, Terraform and the API spell differently (``"30"``, ``30``, ``"true"``).
"""

from __future__ import annotations

from typing import Any

from .model import Definitions, Ref, Resource, Unresolved
from .report import ImportReport


def as_number(value: Any) -> float | int:
    """A number from a number or a numeric string (CloudFormation passes both)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        f = float(value.strip())
        return int(f) if f.is_integer() else f
    raise ValueError(f"expected a number, got {value!r}")


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def as_str(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


class Mapper:
    """Builds the scenario dict, writing each decision into the report."""

    def __init__(self, defs: Definitions, report: ImportReport):
        self.defs, self.report = defs, report
        self.out: dict[str, Any] = {}

    # -- recording ----------------------------------------------------------------------------

    def put(self, path: str, value: Any) -> None:
        node = self.out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def why(self, res: Resource | None, field: str, text: str) -> str:
        """Why ``res.field`` was not used: its unresolved reason if it has one, else ``text``."""
        v = res.fields.get(field) if res is not None else None
        if v is not None and isinstance(v.value, Unresolved):
            return f"{v.origin} is {v.value.reason}; {text.split(':', 1)[-1].strip()}"
        return text

    def take(
        self,
        res: Resource | None,
        field: str,
        path: str | None,
        convert: Any = as_number,
        default: Any = None,
        why: str = "",
    ) -> Any:
        """The converted value of ``res.field`` written at ``path`` (if given), or ``None``
        (and the default recorded, if one is given) when missing or unresolved."""
        v = res.fields.get(field) if res is not None else None
        if v is None or isinstance(v.value, Unresolved | Ref):
            if v is not None:
                reason = v.value.reason if isinstance(v.value, Unresolved) else "a resource"
                why = f"{v.origin} is {reason}" + (f"; {why}" if why else "")
            if path is not None and default is not None:
                self.report.default(path, default, why or "not in the files")
            return None
        try:
            value = convert(v.value)
        except (TypeError, ValueError) as exc:
            self.report.looks_wrong(v.origin, str(exc))
            if path is not None and default is not None:
                self.report.default(path, default, f"{v.origin} could not be read")
            return None
        if path is not None:
            self.put(path, value)
            self.report.map(path, value, v.origin)
        return value

    def note_defs(self) -> None:
        for n in self.defs.notes:
            if n.kind == "wrong":
                self.report.looks_wrong(n.where, n.text)
            elif n.kind == "ignored":
                self.report.ignore(n.where, n.text)
            else:
                self.report.default(n.where, None, n.text)

"""How the narration writes things: clock times, durations, plurals, colours, first lines."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["first_line", "format_clock", "format_duration", "num", "paint", "plural"]

_STYLE = {"bad": "1;31", "good": "1;32", "shift": "1;33", "fault": "35", "dim": "2", "head": "1"}


def paint(text: str, style: str | None, color: bool) -> str:
    if not color or style is None or style not in _STYLE:
        return text
    return f"\x1b[{_STYLE[style]}m{text}\x1b[0m"


def format_clock(seconds: float, hours: bool = False) -> str:
    """``mm:ss`` (or ``h:mm:ss`` when ``hours``) for a time from the start of the run."""
    s = int(math.floor(seconds + 1e-9))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if hours:
        return f"{h}:{m:02d}:{sec:02d}"
    return f"{m + 60 * h:02d}:{sec:02d}"


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``45s``, ``3m20s``, ``1h05m``; ``-`` for None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, sec = divmod(s, 60)
    if m < 60:
        return f"{m}m" if sec == 0 else f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h" if m == 0 and sec == 0 else f"{h}h{m:02d}m"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def first_line(text: str | None, limit: int = 100) -> str:
    """The first line of a description, cut to its first sentence if it is long."""
    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    if len(line) > limit:
        stop = line.find(". ")
        if 0 < stop < limit:
            return line[: stop + 1]
        cut = line[:limit].rsplit(" ", 1)[0]
        return cut + " …"
    return line


def num(value: Any, fmt: str = ",.0f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{fmt}}{unit}"

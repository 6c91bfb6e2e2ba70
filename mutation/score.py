"""The mutation score per module, from mutmut's results and the list of equivalent mutants.

Run from the repository root after (or during) a ``mutmut run``::

    python mutation/score.py            # one line per module, and the total
    python mutation/score.py --unsorted # also every survivor not listed in equivalent.md

Score = killed / (mutants checked − equivalent), where a timeout counts as killed (the mutant
hung the tests) and an equivalent mutant is one named in ``mutation/equivalent.md``. A survivor
that equivalent.md does not name is *unsorted*: a gap to close with a test, or an equivalent
mutant to list with its reason. mutmut keeps its verdicts in ``mutants/**/*.meta`` (JSON, an
exit code per mutant), written as each mutant finishes, so this also reports a run in progress.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

# mutmut 3.8's exit codes (mutmut.__main__.status_by_exit_code), kept here so that this script
# reads results without importing mutmut.
KILLED = {1, 3, -24, 24, 36, 152, 255, -11, -9}  # tests failed, hung (timeout) or crashed
SURVIVED = {0, 5}  # tests passed; 5 = no test collected
NO_TESTS = {33}
SKIPPED = {34}
SUSPICIOUS = {35}
TYPE_CHECK = {37}

_FULL = re.compile(r"(x\S*?__mutmut_)(\d+)$")
_SHORT = re.compile(r"_(\d+)$")
_METHOD = re.compile(r"(\w+?__mutmut_)(\d+)$")


def equivalent_names(path: Path) -> set[str]:
    """The mutants that ``equivalent.md`` names, as mutmut's full names.

    Under a ``## pkg/module.py`` heading, each ``- `` line names its mutants in backticks before
    the reason (after " — "): a full name (``xǁClassǁmethod__mutmut_3``), then ``_N`` for more
    mutants of the same function, ``method__mutmut_N`` for another method of the same class, and
    "`A` to `_N`" for a range.
    """
    entries: list[tuple[str, str]] = []  # (module, the entry's text, continuation lines joined)
    module = None
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (\S+)\.py", line)
        if heading:
            module = "bluegreen_sim." + heading.group(1).replace("/", ".")
        elif module and line.startswith("- "):
            entries.append((module, line))
        elif module and entries and line.startswith("  ") and entries[-1][0] == module:
            entries[-1] = (module, entries[-1][1] + " " + line.strip())
    names: set[str] = set()
    for module, entry in entries:
        prefix, last = None, None
        for sep, token in re.findall(r"(\s+to\s+)?`([^`]+)`", entry.split(" — ")[0]):
            if m := _FULL.match(token):
                prefix, number = m.group(1), int(m.group(2))
            elif prefix and (m := _SHORT.match(token)):
                number = int(m.group(1))
            elif prefix and "ǁ" in prefix and (m := _METHOD.match(token)):
                prefix = prefix[: prefix.rindex("ǁ") + 1] + m.group(1)
                number = int(m.group(2))
            else:
                continue
            first = last + 1 if sep and last is not None else number
            names.update(f"{module}.{prefix}{k}" for k in range(first, number + 1))
            last = number
    return names


def verdicts(mutants: Path) -> dict[str, int | None]:
    """mutmut's exit code per mutant (None: not checked yet)."""
    codes: dict[str, int | None] = {}
    for meta in sorted(mutants.glob("**/*.py.meta")):
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def status(code: int | None) -> str:
    if code is None:
        return "unchecked"
    if code in KILLED:
        return "killed"
    if code in SURVIVED | NO_TESTS | SUSPICIOUS:
        return "survived"
    if code in TYPE_CHECK:
        return "killed"
    return "skipped" if code in SKIPPED else f"exit {code}"


def table(codes: dict[str, int | None], equivalent: set[str]):
    """Per module: Counter of killed / equivalent / unsorted / unchecked, and the unsorted names."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    unsorted: dict[str, list[str]] = collections.defaultdict(list)
    for name, code in codes.items():
        module = name.split(".x")[0]
        verdict = status(code)
        if verdict == "survived":
            verdict = "equivalent" if name in equivalent else "unsorted"
            if verdict == "unsorted":
                unsorted[module].append(name)
        counts[module][verdict] += 1
    return counts, unsorted


def score(c: collections.Counter) -> float | None:
    judged = c["killed"] + c["unsorted"]
    return None if judged == 0 else 100.0 * c["killed"] / judged


def _row(label: str, c: collections.Counter) -> str:
    s = score(c)
    shown = "–" if s is None else f"{s:5.1f}%"
    return (
        f"{label:42s} {sum(c.values()):7d} {c['killed']:6d} {c['equivalent']:5d} "
        f"{c['unsorted']:8d} {c['unchecked']:9d} {shown:>6s}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--equivalent", type=Path, default=Path("mutation/equivalent.md"))
    parser.add_argument("--unsorted", action="store_true", help="list the unsorted survivors")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        metavar="MUTANTS",
        help="the mutants/ folder of a later run of the same source with more tests (re-runs "
        "by name, in another checkout): a mutant it killed counts as killed",
    )
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"mutation/score.py: {args.mutants}: no mutmut results (run mutmut first)")
        return 2
    codes = verdicts(args.mutants)
    for later in args.also:
        for name, code in verdicts(later).items():
            if code is not None and name in codes and status(codes[name]) != "killed":
                codes[name] = code
    counts, unsorted = table(codes, equivalent_names(args.equivalent))
    total: collections.Counter = collections.Counter()
    print(f"{'module':42s} mutants killed equiv unsorted unchecked  score")
    for module in sorted(counts):
        total += counts[module]
        print(_row(module.removeprefix("bluegreen_sim."), counts[module]))
    print(_row("total", total))
    if args.unsorted:
        for module in sorted(unsorted):
            for name in sorted(unsorted[module]):
                print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

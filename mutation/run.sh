#!/usr/bin/env bash
# A whole mutation run in two stages, with the same verdicts as one run over the full selection.
#
#   mutation/run.sh [CHILDREN]        # from the repository root; CHILDREN defaults to 2
#
# The controllers, alarms and CloudWatch's evaluation run against the full selection of
# [tool.mutmut] (their mutants are cheap: few tests execute each function). The modules that
# every simulation calls (ALB, Fargate, faults, metric store, statistics, outcomes, the world and
# the summary) run first against the rule tests listed in mutation/stage1-tests.txt only, in a
# scratch worktree; a mutant those tests kill is killed. Only the survivors of that first stage
# then run against the full selection, by name, here. A mutant of a hot function is executed by
# some 200 selected tests; a killed one stops at its first failing test, but the tests before it
# are the cost, and the first stage leaves most of them out.
# Then: python mutation/score.py --unsorted --also "$STAGE1/mutants"
set -euo pipefail
CHILDREN="${1:-2}"
ROOT="$(git rev-parse --show-toplevel)"
STAGE1="${STAGE1:-$ROOT/../$(basename "$ROOT")-mutation-stage1}"
LIGHT=("bluegreen_sim.aws.controllers*" "bluegreen_sim.aws.alarms*" "bluegreen_sim.aws.cloudwatch*")
HOT=("bluegreen_sim.aws.alb*" "bluegreen_sim.aws.fargate*" "bluegreen_sim.aws.faults*"
     "bluegreen_sim.aws.metrics*" "bluegreen_sim.aws.statistics*" "bluegreen_sim.engine.*")
# Other globs (space-separated) for a part or a try-out: MUTATION_LIGHT=... MUTATION_HOT=...
if [ -n "${MUTATION_LIGHT:-}" ]; then read -ra LIGHT <<< "$MUTATION_LIGHT"; fi
if [ -n "${MUTATION_HOT:-}" ]; then read -ra HOT <<< "$MUTATION_HOT"; fi

cd "$ROOT"
echo "== the light modules, full selection ($(date -u +%T))"
mutmut run --max-children "$CHILDREN" "${LIGHT[@]}"

echo "== stage 1: the hot modules against the rule tests, in $STAGE1 ($(date -u +%T))"
if [ ! -d "$STAGE1" ]; then
  git worktree add --detach "$STAGE1" HEAD
else
  git -C "$STAGE1" checkout --detach -q "$(git rev-parse HEAD)"
fi
rm -rf "$STAGE1/mutants"  # a stage 1 from scratch: the source or the tests may have changed
python - "$STAGE1/pyproject.toml" mutation/stage1-tests.txt <<'PY'
import re, sys
path, listing = sys.argv[1], sys.argv[2]
files = [line.split("#")[0].strip() for line in open(listing, encoding="utf-8")]
files = [f for f in files if f]
text = open(path, encoding="utf-8").read()
entries = "".join(f'  "{f}",\n' for f in files)
text, n = re.subn(r"pytest_add_cli_args_test_selection = \[\n.*?\n\]",
                  "pytest_add_cli_args_test_selection = [\n" + entries + "]", text, flags=re.S)
assert n == 1, "no pytest_add_cli_args_test_selection list in pyproject.toml"
open(path, "w", encoding="utf-8").write(text)
PY
(cd "$STAGE1" && mutmut run --max-children "$CHILDREN" "${HOT[@]}")

echo "== stage 2: the survivors of stage 1, full selection ($(date -u +%T))"
mapfile -t SURVIVORS < <(python mutation/score.py --mutants "$STAGE1/mutants" --equivalent /dev/null \
  --unsorted | grep "__mutmut_" || true)
if [ "${#SURVIVORS[@]}" -gt 0 ]; then
  mutmut run --max-children "$CHILDREN" "${SURVIVORS[@]}"
fi
echo "== done ($(date -u +%T))"
python mutation/score.py --also "$STAGE1/mutants"

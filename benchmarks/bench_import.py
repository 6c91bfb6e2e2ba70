"""Benchmark of ``import``: prints figures, asserts nothing.

How long an import of each bundled interop fixture takes, with and without cfn-lint's schema
check (which only CloudFormation templates get), and the size of a synthetic CDK-like template
with many unrelated resources (what ``cdk synth`` produces for a real app).

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bluegreen_sim.interop.importer import import_raw

FILES = Path(__file__).resolve().parent.parent / "tests" / "interop_files"
CASES = {
    "cfn-codedeploy.yaml": ["cfn-codedeploy.yaml"],
    "cfn-ecs-native.json": ["cfn-ecs-native.json"],
    "cdk-synth.template.json": ["cdk-synth.template.json"],
    "terraform (3 files)": ["terraform/main.tf", "terraform/variables.tf", "terraform/prod.tfvars"],
    "terraform-modules": ["terraform-modules/main.tf"],
    "appspec + group json": ["appspec.yaml", "create-deployment-group.json"],
}


def timed(paths: list[Path], lint: bool, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        import_raw(paths, lint=lint)
        best = min(best, time.perf_counter() - start)
    return best


def big_template(n: int) -> dict:
    tpl = json.loads((FILES / "cdk-synth.template.json").read_text())
    for i in range(n):
        tpl["Resources"][f"Queue{i:05d}ABCDEF"] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"VisibilityTimeout": 30, "QueueName": {"Fn::Sub": f"q-{i}"}},
            "Metadata": {"aws:cdk:path": f"Stack/Queue{i}/Resource"},
        }
    return tpl


def main() -> None:
    import_raw([FILES / "cfn-codedeploy.yaml"], lint=True)  # imports cfn-lint once
    print(f"{'files':<28}{'no lint (ms)':>14}{'cfn-lint (ms)':>15}")
    for name, rel in CASES.items():
        paths = [FILES / r for r in rel]
        print(f"{name:<28}{timed(paths, False) * 1000:>14.0f}{timed(paths, True) * 1000:>15.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 1000):
            path = Path(tmp) / f"big{n}.json"
            path.write_text(json.dumps(big_template(n)))
            size = path.stat().st_size / 1e6
            print(
                f"{f'CDK-like, {n} extra resources':<28}{timed([path], False, 1) * 1000:>14.0f}"
                f"{timed([path], True, 1) * 1000:>15.0f}   ({size:.1f} MB)"
            )


if __name__ == "__main__":
    main()

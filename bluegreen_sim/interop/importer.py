"""``import_aws``: the user's files in, a validated scenario and its report out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..scenario import Scenario, ScenarioError, scenario_from_dict
from .detect import Source, read_source
from .mapping import to_scenario
from .model import Definitions
from .report import ImportReport

# Parameters first (templates need them), deployments last (they override their group).
_ORDER = {"cfn_parameters": 0, "tfvars": 0, "deployment_api": 2, "appspec": 2}


def import_aws(
    paths: str | Path | Iterable[str | Path],
    params: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    service: str | None = None,
    lint: bool = True,
) -> tuple[Scenario, ImportReport]:
    """Read the user's deployment definitions into a scenario.

    Args:
        paths: CloudFormation templates (YAML/JSON, CDK synth output) and parameters files,
            Terraform ``.tf``/``.tfvars``, AppSpec files, AWS CLI inputs and ``describe-*``
            outputs; several combine into one scenario. Their kind is read from their content.
        params: CloudFormation parameter values (override the parameters files and defaults).
        variables: Terraform variable values (override ``.tfvars`` and defaults).
        service: the ECS service to import when the files hold several (logical id, Terraform
            address or name).
        lint: check CloudFormation resources against AWS's schemas with cfn-lint (keys AWS
            does not know, values out of range: "looks wrong"); about a second a template.

    Returns:
        The scenario and the :class:`ImportReport` (mapped, defaulted, ignored, looks wrong).

    Raises:
        ScenarioError: a file cannot be read or recognised, or holds no deployment; one line.
    """
    raw, report = import_raw(paths, params, variables, service, lint)
    return validate(raw, report), report


def import_raw(paths, params=None, variables=None, service=None, lint=True):
    """Like :func:`import_aws`, but the scenario as a plain dict (for writing with comments)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    sources = [read_source(p) for p in paths]
    if not sources:
        raise ScenarioError("import", None, "no files given")
    return import_sources(sources, params, variables, service, lint)


def import_sources(
    sources: list[Source], params=None, variables=None, service=None, lint=True
) -> tuple[dict[str, Any], ImportReport]:
    from . import appspec, cfn

    defs = Definitions(files=[s.path for s in sources])
    report = ImportReport(sources=[f"{s.path} ({s.kind.replace('_', ' ')})" for s in sources])
    cfn_params: dict[str, Any] = {}
    tf_vars: dict[str, Any] = {}
    for src in sources:
        if src.kind == "cfn_parameters":
            cfn_params.update(cfn.parameter_values(src.path, src.data))
        elif src.kind == "tfvars":
            tf_vars.update(_tfvars(src))
    cfn_params.update(params or {})
    tf_vars.update(variables or {})
    terraform = [s for s in sources if s.kind == "terraform"]
    if terraform:
        from . import terraform as tf

        tf.read_modules(terraform, tf_vars, defs)
    for src in sorted(sources, key=lambda s: _ORDER.get(s.kind, 1)):
        if src.kind == "cloudformation":
            cfn.read_template(src.path, src.data, cfn_params, defs, src.text if lint else None)
        elif src.kind == "appspec":
            appspec.read_appspec(src.path, src.data, defs)
        elif src.kind.endswith("_api"):
            appspec.read_api(src.path, src.kind, src.data, defs)
    if cfn_params and not any(s.kind == "cloudformation" for s in sources):
        defs.note("ignored", "parameters", "CloudFormation parameters given without a template")
    return to_scenario(defs, report, service), report


def _tfvars(src: Source) -> dict[str, Any]:
    from . import terraform as tf

    return tf.tfvars_values(src.path, src.data)


def validate(raw: dict[str, Any], report: ImportReport) -> Scenario:
    """Validate the imported dict; an error names the user's file and path, not ours."""
    try:
        return scenario_from_dict(raw, source="imported scenario")
    except ScenarioError as exc:
        origins = report.origins()
        field = exc.field or ""
        best = max(
            (p for p in origins if field.startswith(p) or p.startswith(field)),
            key=len,
            default=None,
        )
        if best is not None and not origins[best].startswith("default"):
            raise ScenarioError(
                origins[best], None, f"{exc.message} (scenario field {field})"
            ) from None
        raise

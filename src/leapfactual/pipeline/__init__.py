"""Runs and jobs: one way to build each model from its settings, fit a run directory, load it
back, and explain with it (in memory or sharded and resumable)."""

from leapfactual.pipeline.build import (
    condition_images,
    encode_decode,
    fit_classifier,
    fit_cvae,
    fit_flow,
    fit_flow_for,
    fit_vae,
    model_device,
    predict_probs,
)
from leapfactual.pipeline.explain import ExplainResult, explain_run, resolve_inputs
from leapfactual.pipeline.run import STAGES, Run, fit_run, fit_warnings, load_run
from leapfactual.pipeline.settings import (
    CODECS,
    FIELDS,
    STAGE_NAMES,
    ClassifierSettings,
    ExplainSettings,
    FitConfig,
    FlowSettings,
    VAESettings,
    from_dict,
    load_toml,
    override,
    parse_assignments,
    to_dict,
)

__all__ = [
    "CODECS",
    "FIELDS",
    "STAGES",
    "STAGE_NAMES",
    "ClassifierSettings",
    "ExplainResult",
    "ExplainSettings",
    "FitConfig",
    "FlowSettings",
    "Run",
    "VAESettings",
    "condition_images",
    "encode_decode",
    "explain_run",
    "fit_classifier",
    "fit_cvae",
    "fit_flow",
    "fit_flow_for",
    "fit_run",
    "fit_vae",
    "fit_warnings",
    "from_dict",
    "load_run",
    "load_toml",
    "model_device",
    "override",
    "parse_assignments",
    "predict_probs",
    "resolve_inputs",
    "to_dict",
]

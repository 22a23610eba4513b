"""Runs and jobs: one way to build each model from its settings, fit a run directory, load it
back, and explain with it (in memory or sharded and resumable)."""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.pipeline.build import (
        condition_images,
        encode_decode,
        fit_classifier,
        fit_cvae,
        fit_flow,
        fit_flow_for,
        fit_regressor,
        fit_vae,
        model_device,
        predict_probs,
    )
    from leapfactual.pipeline.explain import ExplainResult, explain_run, resolve_inputs
    from leapfactual.pipeline.run import (
        STAGES,
        Run,
        fast_layout,
        fit_run,
        fit_summary,
        fit_warnings,
        load_run,
        run_verdict,
    )
    from leapfactual.pipeline.settings import (
        CODECS,
        FIELDS,
        STAGE_NAMES,
        ClassifierSettings,
        CodecSettings,
        ExplainSettings,
        FitConfig,
        FitSettings,
        FlowSettings,
        VAESettings,
        check_stages,
        codec_for,
        from_dict,
        load_toml,
        override,
        parse_assignments,
        to_dict,
    )
    from leapfactual.pipeline.verdict import LEVELS, Check, Verdict, verdict_headline

__all__ = [
    "CODECS",
    "FIELDS",
    "LEVELS",
    "STAGES",
    "STAGE_NAMES",
    "Check",
    "ClassifierSettings",
    "CodecSettings",
    "ExplainResult",
    "ExplainSettings",
    "FitConfig",
    "FitSettings",
    "FlowSettings",
    "Run",
    "VAESettings",
    "Verdict",
    "check_stages",
    "codec_for",
    "condition_images",
    "encode_decode",
    "explain_run",
    "fast_layout",
    "fit_classifier",
    "fit_cvae",
    "fit_flow",
    "fit_flow_for",
    "fit_regressor",
    "fit_run",
    "fit_summary",
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
    "run_verdict",
    "to_dict",
    "verdict_headline",
]

lazy_face(__name__, light=("settings",))

"""Runs and jobs: one way to build each model from its settings, fit a run directory, load it
back, and explain with it (in memory or sharded and resumable)."""

from leapfactual.pipeline.explain import ExplainResult, explain_run, resolve_inputs
from leapfactual.pipeline.run import STAGES, Run, fit_run, fit_warnings, load_run
from leapfactual.pipeline.settings import (
    ClassifierSettings,
    ExplainSettings,
    FitConfig,
    FlowSettings,
    VAESettings,
    load_toml,
    override,
)

__all__ = [
    "STAGES",
    "ClassifierSettings",
    "ExplainResult",
    "ExplainSettings",
    "FitConfig",
    "FlowSettings",
    "Run",
    "VAESettings",
    "explain_run",
    "fit_run",
    "fit_warnings",
    "load_run",
    "load_toml",
    "override",
    "resolve_inputs",
]

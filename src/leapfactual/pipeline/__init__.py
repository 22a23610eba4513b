"""Runs: train codec, classifier and flow on a dataset into a directory, and load them back."""

from leapfactual.pipeline.run import STAGES, FitConfig, Run, fit_run, load_run

__all__ = ["STAGES", "FitConfig", "Run", "fit_run", "load_run"]

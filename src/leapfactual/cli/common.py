"""Helpers shared by CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def check_output(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise ValueError(
            f"{out} already exists and is not empty; choose another --out or add "
            "--force to overwrite it"
        )


def inputs(run: Any, spec: str) -> tuple[torch.Tensor, list[str]]:
    if spec in ("test", "train"):
        return getattr(run, spec).images, []
    from leapfactual.data import load_image_files

    channels, size, _ = run.dataset.shape
    paths = [p for p in spec.split(",") if p]
    return load_image_files(paths, size=size, channels=channels)


def write_report(
    exp: Any, names: list[str], out: Path, command: str, page: Path | None = None
) -> Path:
    from leapfactual.report import build_report, write_report

    built = build_report(
        exp,
        names,
        title=f"Counterfactuals: {exp.method}",
        subtitle=f"{len(exp)} counterfactuals",
        notes=[f"Produced by `{command}`."],
    )
    return write_report(built, page or out / "report.html")

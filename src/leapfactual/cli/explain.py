"""The ``explain`` command: counterfactuals from a fitted run, saved with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from leapfactual.cli.common import check_output, inputs, write_report


def explain(
    run: Annotated[Path, typer.Argument(help="Run directory made by `leapfactual fit`.")],
    out: Annotated[Path, typer.Option(help="Output directory (explanation + report.html).")],
    images: Annotated[
        str,
        typer.Option(
            help="'test' or 'train' (the run's split), or image "
            "files / a folder of PNG or JPEG files."
        ),
    ] = "test",
    target: Annotated[
        str, typer.Option(help="A class index, 'next', 'random' or 'all-others'.")
    ] = "random",
    limit: Annotated[int, typer.Option(min=1, help="Explain at most this many inputs.")] = 64,
    blend_gamma: Annotated[float, typer.Option(help="Blending gamma.")] = 0.1,
    blend_steps: Annotated[int, typer.Option(min=0, help="Blending leaps.")] = 15,
    tol: Annotated[
        float | None,
        typer.Option(
            help="Stop blending a sample once its latent moves less than this (RMS) per leap."
        ),
    ] = None,
    inject_steps: Annotated[
        int, typer.Option(min=0, help="Injection leaps (0: no reliable CE).")
    ] = 5,
    inject_lift: Annotated[float, typer.Option(help="Injection lift gamma.")] = 0.0,
    inject_land: Annotated[float, typer.Option(help="Injection land gamma.")] = 0.1,
    solver: Annotated[str, typer.Option(help="euler, midpoint, rk4 or dopri5.")] = "rk4",
    solver_steps: Annotated[int, typer.Option(min=1, help="Fixed-step solver steps.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per internal batch.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed for 'random' targets.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output directory.")] = False,
) -> None:
    """Make counterfactuals with a fitted run and write them (safetensors) with a report."""
    from leapfactual.explain import Blend, Inject
    from leapfactual.explain.targets import parse_targets
    from leapfactual.flow import Solver
    from leapfactual.pipeline import load_run

    check_output(out, force)
    fitted = load_run(run)
    x, names = inputs(fitted, images)
    x = x[:limit]
    fitted.require("classifier")
    with torch.no_grad():
        labels = fitted.classifier(x).argmax(1)  # type: ignore[misc]
    rows, targets = parse_targets(target, labels, fitted.dataset.num_classes, seed)
    explainer = fitted.explainer(
        blend=Blend(blend_gamma, blend_steps, tol),
        inject=Inject(inject_lift, inject_land, inject_steps) if inject_steps else None,
        solver=Solver(solver, solver_steps),
        trajectory="images",
        batch_size=batch_size,
        progress=True,
    )
    exp = explainer.explain(x[rows], targets)
    exp.config["inputs"] = [names[i] for i in rows.tolist()] if names else images
    exp.save(out)
    page = write_report(exp, fitted.dataset.class_names, out, f"leapfactual explain {run}")
    typer.echo(
        f"{len(exp)} counterfactuals: validity {exp.valid.float().mean():.3f}"
        + (
            f", reliable {exp.valid_reliable.float().mean():.3f}"
            if exp.valid_reliable is not None
            else ""
        )
    )
    typer.echo(f"explanation: {out}\nreport: {page}")

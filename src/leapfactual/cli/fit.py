"""The ``fit`` command: train a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.pipeline import FitConfig


def fit(
    out: Annotated[Path, typer.Option(help="Run directory to create or complete.")],
    data: Annotated[
        str,
        typer.Option(
            help="Dataset: mnist5k, digits, fashion-mnist[:DIR], "
            "idx:DIR, image-folder:DIR, galaxy10:FILE.h5."
        ),
    ] = "mnist5k",
    seed: Annotated[int, typer.Option(help="Seed of split and training.")] = 0,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.9, help="Held-out share.")] = 0.2,
    latent_dim: Annotated[int, typer.Option(min=1, help="VAE latent size.")] = FitConfig.latent_dim,
    vae_epochs: Annotated[int, typer.Option(min=1, help="VAE epochs.")] = FitConfig.vae_epochs,
    classifier_epochs: Annotated[
        int, typer.Option(min=1, help="Classifier epochs.")
    ] = FitConfig.classifier_epochs,
    flow_epochs: Annotated[int, typer.Option(min=1, help="Flow epochs.")] = FitConfig.flow_epochs,
    flow_field: Annotated[
        str, typer.Option(help="Flow network: mlp, or unet (1-D U-Net for large latents).")
    ] = FitConfig.flow_field,
    condition: Annotated[
        str, typer.Option(help="Flow condition: softmax, onehot, class.")
    ] = "softmax",
    stages: Annotated[
        str,
        typer.Option(
            help="Comma-separated stages: vae, classifier, flow, "
            "oracle (independent classifier), cvae (CGM baseline)."
        ),
    ] = "vae,classifier,flow",
    device: Annotated[
        str | None,
        typer.Option(help="cpu, cuda, cuda:1 ... (default: this rank's GPU if any, else cpu)."),
    ] = None,
) -> None:
    """Train the VAE, the classifier and the CE-CFM flow on a dataset into a run directory.

    Re-running completes missing stages and reuses finished ones; an interrupted stage resumes
    from its last epoch. Under `torchrun --nproc-per-node N -m leapfactual fit ...` every
    stage trains data-parallel on N processes (same global batch) and rank 0 writes the run.
    """
    from leapfactual.distributed import finish, world
    from leapfactual.pipeline import fit_run

    config = FitConfig(
        data=data,
        seed=seed,
        test_fraction=test_fraction,
        latent_dim=latent_dim,
        vae_epochs=vae_epochs,
        classifier_epochs=classifier_epochs,
        flow_epochs=flow_epochs,
        flow_field=flow_field,
        condition=condition,
    )
    run = fit_run(
        out,
        config,
        tuple(s.strip() for s in stages.split(",") if s.strip()),
        progress=True,
        device=device,
    )
    if world().is_main:
        for key, value in (run.summary or {}).items():
            typer.echo(f"{key}: {value:.4f}")
        typer.echo(f"run: {out}")
    finish()
